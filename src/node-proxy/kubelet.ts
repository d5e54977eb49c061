import type { HostFacts } from '../facts/types.js';
import type { Inventory } from '../inventory/model.js';
import type { Change } from '../plan/changes.js';
import type { KubeClient } from '../render/catalog.js';
import { shellQuote as q } from '../shell/quote.js';
import { MONITOR_URI } from '../render/context.js';
import { healthCommand } from './health.js';
import { readKubeconfig, withServer } from './kubeconfig.js';
import { STATE_DIR } from '../tasks/directories.js';
import type { ProxyTask } from './tasks.js';

// node_proxy.kubelet (issue 14 point 3): the kubelet of each proxy host, and
// a kube-proxy run from the host, pointed at the local proxy. Never silent:
// only when hosts.yaml asks, shown in the plan with the file's diff, and
// only a kubeconfig as kubeadm writes it (kubeconfig.ts); anything else is
// refused in preflight, before any host changes.

export interface KubeconfigTarget {
  path: string;
  service: KubeClient;
}

/** kubeadm's kubelet kubeconfig (kubeadm join writes it once the TLS bootstrap is done). */
export const KUBELET_CONF = '/etc/kubernetes/kubelet.conf';
/**
 * Where kube-proxy's kubeconfig sits when kube-proxy runs from the host (a
 * kube-proxy.service). In a kubeadm cluster kube-proxy is a DaemonSet whose
 * kubeconfig is the kube-proxy ConfigMap, mounted at this path inside the
 * pod only: there is no such file on the host, and kha changes no ConfigMap.
 */
export const KUBE_PROXY_CONF = '/var/lib/kube-proxy/kubeconfig.conf';

export const KUBECONFIG_TARGETS: readonly KubeconfigTarget[] = [
  { path: KUBELET_CONF, service: 'kubelet' },
  { path: KUBE_PROXY_CONF, service: 'kube-proxy' },
];

/**
 * Where a client's restart is owed: made in the same step that renames its
 * pointed kubeconfig into place, removed once the client has restarted. A
 * run killed between the two (not a Ctrl-C, which puts the file back) leaves
 * a client still on its old server and a file that already says the proxy:
 * this file tells the next run to restart it.
 */
export function restartPendingPath(service: KubeClient): string {
  return `${STATE_DIR}/${service}.restart-pending`;
}

/** What clients on a proxy host are pointed at. */
export function proxyUrl(inv: Inventory): string {
  return `https://127.0.0.1:${inv.nodeProxy!.port}`;
}

/** What apply does with one target on one host, from its facts. */
export type TargetState =
  /** Nothing to do, and nothing worth a word (node_proxy.kubelet off; no host kube-proxy, as in any kubeadm cluster). */
  | { kind: 'none' }
  /** Nothing to do now, said as a warning: why, and when it will be done. */
  | { kind: 'skip'; note: string }
  /** Not a file kha rewrites, or a client it cannot confirm: preflight refuses the run. */
  | { kind: 'refuse'; reason: string }
  | { kind: 'pointed' }
  /** Pointed by a run that stopped before it restarted the client (restartPendingPath). */
  | { kind: 'restart' }
  | { kind: 'point'; from: string; content: string; previous: string; mode: number };

function serviceOf(facts: HostFacts, name: string) {
  return facts.services.find((s) => s.name === name);
}

export function targetState(inv: Inventory, facts: HostFacts, target: KubeconfigTarget): TargetState {
  if (!inv.nodeProxy?.kubelet) return { kind: 'none' };
  const file = facts.files.find((f) => f.path === target.path);
  const unit = serviceOf(facts, target.service);
  const running = unit?.active === 'active';
  if (!file?.exists) {
    if (target.service === 'kube-proxy') return { kind: 'none' };
    return running
      ? { kind: 'refuse', reason: `kubelet.service runs but there is no ${target.path}: this kubelet was not set up by kubeadm, and kha points only a kubeconfig as kubeadm writes it` }
      : { kind: 'skip', note: `no ${target.path} yet (before kubeadm init or join): the kubelet is pointed at the proxy by the first apply after it` };
  }
  if (target.service === 'kube-proxy' && !unit?.present) {
    return { kind: 'skip', note: `${target.path} is here but no kube-proxy.service: kube-proxy of a kubeadm cluster reads its kubeconfig from the kube-proxy ConfigMap, which kha leaves alone` };
  }
  if (file.content === null) return { kind: 'refuse', reason: `${target.path} cannot be read as a file` };
  const reading = readKubeconfig(file.content);
  if (!reading.ok) return { kind: 'refuse', reason: `${target.path}: ${reading.reason}` };
  const url = proxyUrl(inv);
  if (reading.server === url) {
    const owed = facts.files.find((f) => f.path === restartPendingPath(target.service))?.exists === true;
    return owed && running ? { kind: 'restart' } : { kind: 'pointed' };
  }
  // Confirming the client came back through the proxy needs it running before.
  if (!running) {
    return { kind: 'refuse', reason: `${target.service}.service is ${unit?.active ?? 'not there'}: kha restarts it on the new ${target.path} and confirms it connects through the proxy, so it must run first` };
  }
  return { kind: 'point', from: reading.server, content: withServer(file.content, reading.server, url), previous: file.content, mode: file.mode ?? 0o600 };
}

const WAIT_S = 20;

/**
 * The new kubeconfig's check before the swap: the proxy passes an apiserver
 * (its health page answers 200) right now, on this host, so a kubelet is
 * never pointed at a proxy that reaches none. Waits as the proxy's gate
 * does: the proxy may have started a moment ago.
 */
export function proxyPassesValidator(inv: Inventory): string {
  const np = inv.nodeProxy!;
  const page = `127.0.0.1:${np.healthPort}${MONITOR_URI}`;
  return [
    `for i in $(seq 1 ${WAIT_S * 2}); do code=$(${healthCommand(np.healthPort)}); [ "$code" = 200 ] && exit 0; sleep 0.5; done`,
    `echo ${q(`the local proxy passes no apiserver (${page} answers `)}"$code"${q(`, not 200, for ${WAIT_S} s): the client stays where it was`)} >&2`,
    'exit 1',
  ].join('; ');
}

export const kubeletTask: ProxyTask = {
  name: 'node-proxy-kubelet',
  purpose: "with node_proxy.kubelet, the kubelet's kubeconfig (and a host kube-proxy's) says https://127.0.0.1:<port>; the client is restarted only when it changed",
  plan({ inv, facts }) {
    return KUBECONFIG_TARGETS.flatMap((target): Change[] => {
      const state = targetState(inv, facts, target);
      const pending = restartPendingPath(target.service);
      if (state.kind === 'restart') {
        return [{ kind: 'service.restart', service: target.service, pending, why: `a run stopped after it pointed ${target.path} at the local proxy and before it restarted ${target.service}, which may still use its old server` }];
      }
      if (state.kind !== 'point') return [];
      return [
        {
          kind: 'file.write',
          path: target.path,
          mode: state.mode,
          content: state.content,
          previous: state.previous,
          modeOnly: false,
          validate: proxyPassesValidator(inv),
          // A kubeconfig may embed a client key: the backup is private from its first byte.
          secret: true,
          service: target.service,
          restartPending: pending,
        },
        { kind: 'service.restart', service: target.service, pending, why: `it reads ${target.path} only at start: the local proxy, not ${state.from}` },
      ];
    });
  },
};
