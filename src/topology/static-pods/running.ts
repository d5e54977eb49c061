import { HostError } from '../../errors.js';
import type { Inventory, LoadBalancer } from '../../inventory/model.js';
import { MONITOR_URI } from '../../render/context.js';
import { shellQuote as q } from '../../shell/quote.js';
import type { Session } from '../../transport/session.js';
import { readSeen } from '../../verify/apiservers-seen.js';
import type { EndpointCheck } from '../../verify/endpoint.js';
import { vipReachesEveryMaster } from '../dedicated/verify.js';
import type { FinalCheck, Gate } from '../topology.js';
import { kubeletRuns, podProcess, podProcessLines, podProcessScript, type PodProcess, type PodProcessSpec } from '../../observe/pod-processes.js';
import { HAPROXY_DIR, KEEPALIVED_DIR } from './manifests.js';
import { readPodVrrpState } from '../../observe/keepalived-state.js';

// Whether the pods run, and run the manifests kha wrote, read from what any
// pod runner leaves on the host: processes in the host's /proc (a container's
// processes are the host's too), the start time of each against its
// manifest's, and haproxy's own health page on 127.0.0.1 (host network). No
// crictl: the same facts hold when podman (`kube play`) runs the pods instead
// of a kubelet. Nothing here changes the host.

export interface PodStatus {
  kubelet: boolean;
  keepalived: PodProcess;
  haproxy: PodProcess;
  /** haproxy's health page answers 200 (what the pod's liveness probe asks). */
  monitor: boolean;
}

/** The two pods, each known by the file its command line names (a proxy's haproxy on the same master is not the endpoint's). */
function endpointPods(manifestsDir: string): PodProcessSpec[] {
  return [
    { key: 'keepalived', comm: 'keepalived', names: `${KEEPALIVED_DIR}/keepalived.conf`, manifest: `${manifestsDir}/keepalived.yaml` },
    { key: 'haproxy', comm: 'haproxy', names: `${HAPROXY_DIR}/haproxy.cfg`, manifest: `${manifestsDir}/haproxy.yaml` },
  ];
}

export function podStatusScript(inv: Inventory, manifestsDir: string): string {
  const port = inv.haproxy.monitor_port;
  const ask = `exec 3<>/dev/tcp/127.0.0.1/${port}; printf 'GET ${MONITOR_URI} HTTP/1.0\\r\\n\\r\\n' >&3; IFS= read -r l <&3; case $l in "HTTP/1."?" 200"*) exit 0 ;; esac; exit 1`;
  return [
    podProcessScript(endpointPods(manifestsDir)),
    `if timeout 2 bash -c ${q(ask)} 2>/dev/null; then echo 'monitor yes'; else echo 'monitor no'; fi`,
  ].join('\n');
}

/** Pure: the script's output. */
export function parsePodStatus(text: string): PodStatus {
  const lines = podProcessLines(text);
  return { kubelet: kubeletRuns(lines), keepalived: podProcess(lines, 'keepalived'), haproxy: podProcess(lines, 'haproxy'), monitor: lines.get('monitor')?.[0] === 'yes' };
}

/** A pod's state in status' words: `active` when it runs its current manifest. */
export function podState(p: PodProcess, kubelet: boolean): string {
  if (p.current) return 'active';
  if (p.running) return 'runs an older manifest';
  return kubelet ? 'not running' : 'not running (no kubelet)';
}

export async function podStatus(session: Session, inv: Inventory, manifestsDir: string): Promise<PodStatus> {
  const r = await session.exec(podStatusScript(inv, manifestsDir), { timeoutMs: 15_000 });
  return parsePodStatus(r.stdout);
}

const POD_START_TIMEOUT_S = 120;

/**
 * After a host's manifests changed: where a kubelet runs, wait until it has
 * restarted both pods on them and haproxy answers, before the next host's
 * change (so the VIP always has a live holder to move to). Without a kubelet
 * nothing restarts them; that is said, and the next host goes on.
 */
export function podsCurrentGate(manifestsDir: string): Gate {
  return async (view, lb, progress) => {
    const session = view.sessions.get(lb.name)!;
    let s = await podStatus(session, view.inv, manifestsDir);
    if (!s.kubelet) {
      progress(`${lb.name}: no kubelet runs here: the pods start on these manifests when one does (kubeadm init or join)`);
      return;
    }
    progress(`${lb.name}: waiting for the kubelet to run keepalived and haproxy on the new manifests`);
    // A restarted haproxy pod puts keepalived in FAULT (its check asks every 0.1 s) until the check has passed
    // `rise` times: the host is not whole, nor a holder the VIP can move to, before then.
    const fault = async () => s.keepalived.current && s.haproxy.current && s.monitor && (await readPodVrrpState(session)) === 'FAULT';
    for (const until = Date.now() + POD_START_TIMEOUT_S * 1000; !(s.keepalived.current && s.haproxy.current && s.monitor) || (await fault()); ) {
      if (Date.now() > until) {
        const missing = [
          ...(s.keepalived.current ? [] : [`keepalived ${s.keepalived.running ? 'runs an older manifest' : 'does not run'}`]),
          ...(s.haproxy.current ? [] : [`haproxy ${s.haproxy.running ? 'runs an older manifest' : 'does not run'}`]),
          ...(s.monitor ? [] : [`haproxy's health page on 127.0.0.1:${view.inv.haproxy.monitor_port} does not answer`]),
          ...((await fault()) ? ["keepalived stays in FAULT: its check of haproxy's health page fails"] : []),
        ];
        throw new HostError(
          lb.name,
          'wait for the pods',
          `${POD_START_TIMEOUT_S} s after kha wrote the manifests in ${manifestsDir}: ${missing.join('; ')}. Look at the kubelet (journalctl -u kubelet) and the pods (crictl ps -a; crictl logs): a missing image or a refused configuration shows there`,
        );
      }
      await new Promise((r) => setTimeout(r, 1000));
      s = await podStatus(session, view.inv, manifestsDir);
    }
    progress(`${lb.name}: keepalived and haproxy run the new manifests`);
  };
}

/** The line apply ends on when nothing runs the pods yet. */
export function pendingLine(hosts: readonly string[]): string {
  return `written on ${hosts.join(', ')}; the kubelet starts keepalived and haproxy when it runs, e.g. with kubeadm init`;
}

/**
 * apply's last check. Before any kubelet runs (the guide's order: manifests
 * first, then kubeadm init) nothing serves the VIP yet, and that is the
 * expected end of apply, said as such: not a failure, and no claim that the
 * endpoint works. Once keepalived or haproxy runs on any master, the
 * dedicated topology's check applies as it is; masters whose pods do not run
 * yet are warnings (kubeadm join starts them).
 */
export function podsServeTheVip(manifestsDir: string): FinalCheck {
  return async (view, stage, progress) => {
    const hosts = view.inv.lbs.filter((lb) => view.sessions.has(lb.name));
    const statuses = await Promise.all(hosts.map(async (lb) => [lb, await podStatus(view.sessions.get(lb.name)!, view.inv, manifestsDir)] as const));
    const runs = (s: PodStatus) => s.keepalived.running || s.haproxy.running;
    const idle = statuses.filter(([, s]) => !runs(s)).map(([lb]) => lb);
    if (idle.length === statuses.length) {
      const seen = readSeen(view.facts.values());
      if (seen.size > 0) {
        throw new HostError('cluster', stage, `keepalived and haproxy run on no master, and apiservers answered through this endpoint before: is the kubelet running (systemctl status kubelet)?`);
      }
      progress(pendingLine(idle.map((lb) => lb.name)));
      return pendingCheck(view.inv, idle);
    }
    const check = await vipReachesEveryMaster(view, stage, progress);
    for (const lb of idle) check.warnings.push(`${lb.name}: keepalived and haproxy are written but not running yet; its kubelet starts them when it runs (kubeadm join)`);
    return check;
  };
}

/** The endpoint before any kubelet: written everywhere, serving nowhere, nothing wrong. */
export function pendingCheck(inv: Inventory, idle: readonly LoadBalancer[]): EndpointCheck {
  return {
    holder: '',
    masters: inv.masters.map((m) => ({ name: m.name, up: false, found: 'not asked: haproxy does not run yet', seenBefore: false })),
    listening: false,
    firstBuild: true,
    problems: [],
    warnings: [],
    podsPending: idle.map((lb) => lb.name),
  };
}
