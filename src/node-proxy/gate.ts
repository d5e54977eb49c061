import { HostError } from '../errors.js';
import type { Inventory } from '../inventory/model.js';
import { shellQuote as q } from '../shell/quote.js';
import type { Session } from '../transport/session.js';
import { MONITOR_URI } from '../render/context.js';
import { healthCommand } from './health.js';
import type { Change } from '../plan/changes.js';
import { confirmPointed, confirmStillThrough, pointedIn, putBackPointed } from './kubelet-gate.js';
import { waitForProxyPod } from './pod-status.js';

// The gate after each proxy host (playbooks: `then: proxy-answers`): the
// proxy answers on the node itself. Asked on the host, with bash's /dev/tcp
// (a node may have no curl), so it is what the kubelet there would get.

/** The word playbooks name this gate by. */
export const PROXY_GATE = 'proxy-answers';

const TIMEOUT_S = 20;

export { healthCommand } from './health.js';

function connectCommand(address: string, port: number): string {
  return `timeout 3 bash -c ${q(`exec 3<>/dev/tcp/${address}/${port}`)} 2>/dev/null`;
}

function listeningCommand(port: number): string {
  return connectCommand('127.0.0.1', port);
}

/**
 * Whether some master's apiserver accepts connections from this host: what
 * the gate expects of the proxy where no endpoint check ran before it (a
 * cluster with no VIP). Before kubeadm init none does.
 */
export async function anApiserverAccepts(session: Session, inv: Inventory): Promise<boolean> {
  const tries = inv.masters.map((m) => connectCommand(m.address, m.apiserverPort));
  return (await session.exec(`${tries.map((t) => `${t} && exit 0`).join('; ')}; exit 1`, { timeoutMs: 10_000 + 3000 * tries.length })).code === 0;
}

/**
 * Waits until the proxy's health page answers 200 (an apiserver passes its
 * checks). When no apiserver answers through the endpoint either (before
 * kubeadm init), there is nothing to wait for: the proxy running and
 * accepting on 127.0.0.1:<port> is the gate, as on the load balancers' first
 * build, and it is said in those words.
 *
 * `apiserversUp`: the endpoint's own check found an apiserver up in this run.
 * `changes`: what this run did to the host; a kubelet (or kube-proxy) it
 * pointed at the proxy must then be seen connected through it
 * (kubelet-gate.ts), or it is put back and the host fails.
 */
export async function proxyAnswers(
  session: Session,
  inv: Inventory,
  apiserversUp: boolean,
  progress: (text: string) => void,
  changes: readonly Change[] = [],
): Promise<void> {
  const np = inv.nodeProxy!;
  // A static pod answers only once its kubelet runs it; before kubeadm join none does, and there is nothing to ask.
  if (np.staticPod && !(await waitForProxyPod(session, np, np.staticPod, progress))) return;
  const pointed = pointedIn(changes);
  // A client pointed in this run went in while an apiserver passed (its validator): one must pass now.
  const expectUp = apiserversUp || pointed.length > 0;
  const deadline = Date.now() + TIMEOUT_S * 1000;
  let code = 'closed';
  for (;;) {
    code = (await session.exec(healthCommand(np.healthPort), { timeoutMs: 10_000 })).stdout.trim();
    if (code === '200') {
      progress(`${session.host}: the proxy answers on 127.0.0.1:${np.port} (health 200: an apiserver is up behind it)`);
      await confirmPointed(session, inv, pointed, progress);
      await confirmStillThrough(session, inv, pointed, progress);
      return;
    }
    if (code !== 'closed' && !expectUp) break;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  // The proxy fails its gate: no client pointed at it in this run stays so.
  const putBack = pointed.length > 0 ? ` ${(await Promise.all(pointed.map((p) => putBackPointed(session, p)))).join('; ')}` : '';
  if (code === 'closed') {
    throw new HostError(session.host, 'proxy answers', `kha-node-proxy does not answer on 127.0.0.1:${np.healthPort}${MONITOR_URI} within ${TIMEOUT_S} s.${putBack}`);
  }
  if (expectUp) {
    throw new HostError(
      session.host,
      'proxy answers',
      `${inv.vip ? 'the endpoint reaches an apiserver' : "a master's apiserver port accepts from this host"}, but from this host the proxy's checks pass none within ${TIMEOUT_S} s (health ${code}): can this host reach the masters' apiserver ports?${putBack}`,
    );
  }
  if ((await session.exec(listeningCommand(np.port), { timeoutMs: 10_000 })).code !== 0) {
    throw new HostError(session.host, 'proxy answers', `kha-node-proxy answers its health page but not on 127.0.0.1:${np.port}`);
  }
  progress(`${session.host}: the proxy runs and accepts on 127.0.0.1:${np.port}; no apiserver answers yet, as before kubeadm init (it sends to each as its checks pass)`);
}
