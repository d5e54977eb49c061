import { HostError } from '../errors.js';
import type { NodeProxySettings, NodeProxyPod } from '../inventory/model.js';
import { kubeletRuns, podProcess, podProcessLines, podProcessScript, type PodProcess } from '../observe/pod-processes.js';
import type { Session } from '../transport/session.js';
import { NODE_PROXY_POD, proxyManifestPath, proxyPodProcess } from './pod.js';

// Whether the proxy's static pod runs, and runs the manifest kha wrote: what
// the gate waits for, what status shows and what says the host serves.

export interface ProxyPodStatus extends PodProcess {
  kubelet: boolean;
}

export async function proxyPodStatus(session: Session, np: NodeProxySettings, pod: NodeProxyPod): Promise<ProxyPodStatus> {
  const spec = proxyPodProcess(np.software, proxyManifestPath(pod.manifestsDir));
  const lines = podProcessLines((await session.exec(podProcessScript([spec]), { timeoutMs: 15_000 })).stdout);
  return { kubelet: kubeletRuns(lines), ...podProcess(lines, spec.key) };
}

/** The pod's state in status' words, as static_pods' (`active` when it runs its current manifest). */
export function proxyPodState(s: ProxyPodStatus): string {
  if (s.current) return 'active';
  if (s.running) return 'runs an older manifest';
  return s.kubelet ? 'not running' : 'not running (no kubelet)';
}

/** Image pulls on a slow link included: the static-pods topology's own wait. */
const POD_START_TIMEOUT_S = 120;

/**
 * Where a kubelet runs: until it runs the pod on its current manifest, said
 * with how long after the manifest's write it started. Without a kubelet
 * (before kubeadm join) nothing starts it yet: said, and false.
 */
export async function waitForProxyPod(session: Session, np: NodeProxySettings, pod: NodeProxyPod, progress: (text: string) => void): Promise<boolean> {
  const until = Date.now() + POD_START_TIMEOUT_S * 1000;
  for (let s = await proxyPodStatus(session, np, pod); ; s = await proxyPodStatus(session, np, pod)) {
    if (!s.kubelet) {
      progress(`${session.host}: no kubelet runs here: it starts ${NODE_PROXY_POD} from ${proxyManifestPath(pod.manifestsDir)} when it does (kubeadm join)`);
      return false;
    }
    if (s.current) {
      progress(`${session.host}: the kubelet runs ${NODE_PROXY_POD} on its current manifest (started ${(s.startedAfterS ?? 0).toFixed(2)} s after it was written)`);
      return true;
    }
    if (Date.now() > until) {
      throw new HostError(
        session.host,
        'proxy answers',
        `${POD_START_TIMEOUT_S} s after kha wrote ${proxyManifestPath(pod.manifestsDir)}: ${NODE_PROXY_POD} ${s.running ? 'runs an older manifest' : 'does not run'}. Look at the kubelet (journalctl -u kubelet) and the pod (crictl ps -a; crictl logs): a missing image or a refused configuration shows there`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
