import type { Inventory } from '../inventory/model.js';
import type { Role } from '../role/role.js';
import { STATE_DIR } from '../tasks/directories.js';
import { kubeletHosts } from '../topology/roles.js';
import { KUBELET_DROP_IN, KUBELET_RESTART_PENDING } from './files.js';
import { confirmKubelet } from './gate.js';
import { planKubelet } from './plan.js';

// client-go's HTTP/2 health check for the kubelets kha manages (hosts.yaml
// kubelet, docs/live-connections.md), as a role: on every host kubeletHosts
// names, in the last stage of every playbook, once the endpoint and the
// proxies stand.

/** The word playbooks name these hosts by. */
export const KUBELET_HOSTS = 'kubelet-hosts';
export const KUBELET_TASK = 'kubelet-settings';
export const KUBELET_GATE = 'kubelet-runs-with-settings';

const names = (inv: Inventory): string[] => kubeletHosts(inv).map((h) => h.name);

export const KUBELET_ROLE: Role = {
  name: "the kubelet's settings",
  // Without the section too: a drop-in an earlier run wrote is taken away.
  hosts: names,
  hostSets: new Map([[KUBELET_HOSTS, async ({ inv }) => names(inv)]]),
  tasks: new Set([KUBELET_TASK]),
  gates: new Map([[KUBELET_GATE, async (view, host, progress) => confirmKubelet(view.sessions.get(host)!, view.inv, view.done?.get(host) ?? [], progress)]]),
  probe: () => ({ files: [KUBELET_DROP_IN, KUBELET_RESTART_PENDING], directories: [STATE_DIR], services: ['kubelet'], sysctls: [], selinuxBooleans: [], apiservers: [] }),
  plan(inv, hostName, facts, tasks) {
    const host = kubeletHosts(inv).find((h) => h.name === hostName);
    if (!host) throw new Error(`${hostName}: runs no kubelet kha manages`);
    return tasks.map((task) => {
      if (task !== KUBELET_TASK) throw new Error(`unknown task ${task} of the kubelet's settings`);
      return { task, changes: planKubelet(inv, host, facts) };
    });
  },
  serving: async (_inv, _host, _session, facts) => facts.services.find((s) => s.name === 'kubelet')?.active === 'active',
};
