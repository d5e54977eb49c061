import type { HostFacts } from '../../facts/types.js';
import { type Inventory, type StaticPodSettings, vipOf } from '../../inventory/model.js';
import { CHECKS, configuredForVip, osCheck, vipCheck } from '../../preflight/checks.js';
import type { Task } from '../../tasks/context.js';
import { directoriesTask, requiredDirectories } from '../../tasks/directories.js';
import { filesTaskOf } from '../../tasks/files.js';
import { firewallTask, UFW_BEFORE_RULES } from '../../tasks/firewall.js';
import { sysctlTask } from '../../tasks/sysctl.js';
import { ENDPOINT_SYSCTL_KEYS } from '../../render/context.js';
import { SEEN_PATH } from '../../verify/apiservers-seen.js';
import { HOST_SETS } from '../dedicated/order.js';
import type { Topology } from '../topology.js';
import { isManifest, staticPodFiles } from './files.js';
import { podsCurrentGate, podsServeTheVip, podState, podStatus } from './running.js';
import { ON_MASTERS } from '../on-masters.js';
import { readPodVrrpState } from '../../observe/keepalived-state.js';
import type { Drill, DrillName } from '../../drill/drills.js';
import { POD_KEEPALIVED_KILL, POD_KEEPALIVED_STOP } from './drills.js';
import { HANDOVER_MARKER, HANDOVER_SERVICE, handoverTask, isHandoverFile } from './handover.js';
import { moveVipTask } from './move-vip.js';

// keepalived and haproxy as static pods of the masters' kubelets (source
// 002, "static pods"): hosts.yaml says so with static_pods, and every lb is
// a master (inventory/semantic.ts). kha writes the configuration files and
// the two Pod manifests before kubeadm init; the kubelet starts the pods.
// Its safe order is playbooks/static-pods.yaml.
//
// What it takes from the other topologies and what it leaves:
// - tasks: directories (the stats socket's, shared with the pod, and kha's
//   state), firewall (VRRP between the masters and the VIP port: host
//   network, so the host's firewall applies), files and sysctl as they are.
//   No packages (the images carry keepalived and haproxy), no services of
//   keepalived or haproxy (the kubelet restarts a pod when its manifest
//   changes; kha's only unit, kha-handover, hands the VIP over before
//   they stop at shutdown: handover.ts), no
//   SELinux booleans (they are for the host's haproxy_t and keepalived_t;
//   containers run as container_t, whose policy the runtime brings).
// - preflight: the dedicated checks, `os` (systemd and a package manager to
//   install with) only on the hosts that get the local proxy, which kha
//   installs as a service; `vip` knows kha's keepalived by its
//   configuration, as no keepalived service exists to be active.
// - drills: those that break the network (an apiserver port refused, a
//   partition, a master refused or silenced for a node's local proxy) as on
//   the masters; keepalived stopped and killed in its pod (drills.ts); the
//   reboot, which waits for the pods as status reads them; those that start
//   a stopped service again themselves are systemd's and say why they do
//   not apply.

const configTask = filesTaskOf('config', "keepalived's and haproxy's files are in place, checked by the images that will read them", (f) => !isManifest(f) && !isHandoverFile(f));
const manifestsTask = filesTaskOf('manifests', 'the Pod manifests are in the kubelet\'s manifests directory, naming the configuration they run', isManifest);

/** Ours when the keepalived configuration is ours (or written for this VIP) and its manifest is in place. */
function keptByStaticPod(manifestsDir: string): (inv: Inventory, facts: HostFacts) => boolean {
  return (inv, facts) => configuredForVip(inv, facts) && facts.files.some((f) => f.path === `${manifestsDir}/keepalived.yaml` && f.exists);
}

const BY_THE_KUBELET = 'the kubelet, not systemd, runs keepalived and haproxy here, and starts a stopped container again by itself';

const NOT_APPLICABLE: ReadonlyMap<DrillName, string> = new Map<DrillName, string>([
  [
    'haproxy-down',
    `it stops the haproxy service until the drill starts it again: ${BY_THE_KUBELET}, at once (podman) or after its back-off (a kubelet), so whether keepalived's check moves the VIP at all depends on the runtime`,
  ],
  ['failback', `it stops keepalived and starts it later: ${BY_THE_KUBELET}, so the return cannot be timed`],
]);

/** keepalived's drills on its pod (drills.ts); every other drill of the masters as it is. */
const DRILLS: readonly Drill[] = ON_MASTERS.drills
  .filter((d) => !NOT_APPLICABLE.has(d.name))
  .map((d) => (d.name === 'keepalived-stop' ? POD_KEEPALIVED_STOP : d.name === 'keepalived-kill' ? POD_KEEPALIVED_KILL : d));

function build(sp: StaticPodSettings): Topology {
  const files = staticPodFiles(sp);
  const checks = new Map(CHECKS);
  checks.set('os', osCheck('proxy-hosts'));
  checks.set('vip', vipCheck(keptByStaticPod(sp.manifestsDir)));
  return {
    name: 'static-pods',
    playbook: 'static-pods',
    files,
    tasks: new Map<string, Task>([directoriesTask, firewallTask, configTask, sysctlTask, handoverTask, moveVipTask, manifestsTask].map((t) => [t.name, t])),
    services: [],
    probe: (inv: Inventory) => ({
      vip: vipOf(inv).address,
      files: [...files.map((f) => f.path), HANDOVER_MARKER, SEEN_PATH, UFW_BEFORE_RULES],
      directories: requiredDirectories(inv.haproxy.stats_socket),
      services: [HANDOVER_SERVICE],
      sysctls: [...ENDPOINT_SYSCTL_KEYS],
      selinuxBooleans: [],
      apiservers: inv.masters.map((m) => ({ name: m.name, address: m.address, port: m.apiserverPort })),
    }),
    checks,
    hostSets: HOST_SETS,
    gates: new Map([['pods-current', podsCurrentGate(sp.manifestsDir)]]),
    finalChecks: new Map([['pods-serve-the-vip', podsServeTheVip(sp.manifestsDir)]]),
    drills: DRILLS,
    drillsNotApplicable: NOT_APPLICABLE,
    vrrpState: readPodVrrpState,
    async serving(session, inv) {
      const s = await podStatus(session, inv, sp.manifestsDir);
      return s.keepalived.running || s.haproxy.running;
    },
    async serviceStates(session, inv) {
      const s = await podStatus(session, inv, sp.manifestsDir);
      return { keepalived: podState(s.keepalived, s.kubelet), haproxy: podState(s.haproxy, s.kubelet) };
    },
  };
}

const built = new Map<string, Topology>();

/** The topology for these settings (its files name the images and the manifests directory); one object per distinct settings. */
export function staticPods(sp: StaticPodSettings): Topology {
  const key = JSON.stringify([sp.keepalivedImage, sp.haproxyImage, sp.manifestsDir]);
  let t = built.get(key);
  if (!t) {
    t = build(sp);
    built.set(key, t);
  }
  return t;
}
