import { DRILLS } from '../../drill/drills.js';
import { type Inventory, vipOf } from '../../inventory/model.js';
import { CHECKS } from '../../preflight/checks.js';
import type { Task } from '../../tasks/context.js';
import { requiredDirectories } from '../../tasks/directories.js';
import { filesTask } from '../../tasks/files.js';
import { firewallTask, UFW_BEFORE_RULES } from '../../tasks/firewall.js';
import { packagesTask } from '../../tasks/packages.js';
import { SELINUX_BOOLEANS, SELINUX_CONFIG, selinuxTask } from '../../tasks/selinux.js';
import { markerPath, servicesTask } from '../../tasks/services.js';
import { sysctlTask } from '../../tasks/sysctl.js';
import { ENDPOINT_SYSCTL_KEYS } from '../../render/context.js';
import { directoriesTask } from '../../tasks/directories.js';
import { SEEN_PATH } from '../../verify/apiservers-seen.js';
import type { Topology } from '../topology.js';
import type { Session } from '../../transport/session.js';
import { readVrrpState } from '../../observe/keepalived-state.js';
import { FILES } from './files.js';
import { GATES, HOST_SETS } from './order.js';
import { vipReachesEveryMaster } from './verify.js';

// Two or more load balancers of their own in front of the masters: keepalived
// holds the VIP, haproxy spreads connections over every apiserver (sources
// 000 and 003). Its safe order is playbooks/apply.yaml.

const SERVICES = ['haproxy', 'keepalived'] as const;

/** systemd's word for each unit, as `systemctl is-active` says it (it exits non-zero when one is not active: the words still come). */
async function systemdStates(session: Session): Promise<Record<string, string>> {
  const r = await session.exec(`systemctl is-active ${SERVICES.join(' ')}`, { timeoutMs: 10_000 });
  const words = r.stdout.trim().split('\n');
  return Object.fromEntries(SERVICES.map((s, i) => [s, words[i]?.trim() || 'unknown']));
}

export const DEDICATED: Topology = {
  name: 'dedicated',
  playbook: 'apply',
  files: FILES,
  tasks: new Map<string, Task>(
    [packagesTask, selinuxTask, directoriesTask, firewallTask, filesTask, sysctlTask, servicesTask].map((t) => [t.name, t]),
  ),
  services: SERVICES,
  probe: (inv: Inventory) => ({
    vip: vipOf(inv).address,
    files: [...FILES.map((f) => f.path), ...SERVICES.map(markerPath), SEEN_PATH, SELINUX_CONFIG, UFW_BEFORE_RULES],
    directories: requiredDirectories(inv.haproxy.stats_socket),
    services: [...SERVICES],
    sysctls: [...ENDPOINT_SYSCTL_KEYS],
    selinuxBooleans: [...SELINUX_BOOLEANS],
    apiservers: inv.masters.map((m) => ({ name: m.name, address: m.address, port: m.apiserverPort })),
  }),
  checks: CHECKS,
  hostSets: HOST_SETS,
  gates: GATES,
  finalChecks: new Map([['vip-reaches-every-master', vipReachesEveryMaster]]),
  drills: DRILLS,
  drillsNotApplicable: new Map(),
  serviceStates: systemdStates,
  serving: async (session) => Object.values(await systemdStates(session)).includes('active'),
  vrrpState: readVrrpState,
};
