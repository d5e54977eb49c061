import { MONITOR_URI } from '../render/context.js';
import { shellQuote as q } from '../shell/quote.js';

// The proxy's health page, asked on the node with bash's /dev/tcp (a node
// may have no curl): what the gate waits for, what a kubeconfig's validator
// requires before a kubelet is pointed at the proxy, what status shows.

/** One try: the status code of 127.0.0.1:<health_port>/kha-health, or `closed` when nothing accepts there. */
export function healthCommand(healthPort: number): string {
  const get = `exec 3<>/dev/tcp/127.0.0.1/${healthPort} || exit 1; printf 'GET ${MONITOR_URI} HTTP/1.0\\r\\n\\r\\n' >&3; read -r v code rest <&3; echo "$code"`;
  return `timeout 3 bash -c ${q(get)} 2>/dev/null || echo closed`;
}
