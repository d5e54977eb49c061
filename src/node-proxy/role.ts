import type { Inventory } from '../inventory/model.js';
import type { Change } from '../plan/changes.js';
import type { TaskPlan } from '../plan/plan.js';
import { renderNodeProxy } from '../render/render.js';
import type { Role } from '../role/role.js';
import { proxyHosts } from '../topology/roles.js';
import { anApiserverAccepts, PROXY_GATE, proxyAnswers } from './gate.js';
import { proxyPodStatus } from './pod-status.js';
import { NODE_PROXY_TASKS, nodeProxyProbe, proxyRunning } from './tasks.js';

// The local proxy as a role (docs/node-proxy.md): beside any topology, on
// every host proxyHosts names, in its own stage of every playbook.

/** The word playbooks name the proxy hosts by. */
export const PROXY_HOSTS = 'proxy-hosts';

const proxyHostNames = (inv: Inventory): string[] => proxyHosts(inv).map((h) => h.name);

export const NODE_PROXY_ROLE: Role = {
  name: 'the local proxy',
  hosts: proxyHostNames,
  // Its one host set is every host it has.
  hostSets: new Map([[PROXY_HOSTS, async ({ inv }) => proxyHostNames(inv)]]),
  tasks: new Set(NODE_PROXY_TASKS.keys()),
  gates: new Map([
    [
      PROXY_GATE,
      // The endpoint's check ran earlier in this run when the playbook puts it first: an apiserver it found up must answer through the proxy too.
      // Without a VIP no such check runs: an apiserver the host itself reaches must.
      // What the run did to the host: a kubelet it pointed at the proxy must be seen connected through it.
      async (view, host, progress) => {
        const session = view.sessions.get(host)!;
        const up = view.endpoint ? view.endpoint.masters.some((m) => m.up) : !view.inv.vip && (await anApiserverAccepts(session, view.inv));
        await proxyAnswers(session, view.inv, up, progress, view.done?.get(host) ?? []);
      },
    ],
  ]),
  probe: nodeProxyProbe,
  plan(inv, hostName, facts, tasks, earlier) {
    const host = proxyHosts(inv).find((h) => h.name === hostName);
    if (!host) throw new Error(`${hostName}: gets no local proxy`);
    const files = renderNodeProxy(inv, host);
    const alsoLoadBalancer = inv.lbs.some((lb) => lb.name === hostName);
    const planned: Change[] = [...earlier];
    const result: TaskPlan[] = [];
    for (const name of tasks) {
      const task = NODE_PROXY_TASKS.get(name);
      if (!task) throw new Error(`unknown task ${name} of the local proxy`);
      const changes = task.plan({ inv, host, facts, files, planned, alsoLoadBalancer });
      planned.push(...changes);
      result.push({ task: task.name, changes });
    }
    return result;
  },
  serving: async (inv, _host, session, facts) => {
    const pod = inv.nodeProxy?.staticPod;
    return pod ? (await proxyPodStatus(session, inv.nodeProxy!, pod)).running : proxyRunning(facts);
  },
};
