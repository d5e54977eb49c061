import type { Inventory, LoadBalancer } from '../inventory/model.js';
import { planHost } from '../plan/plan.js';
import type { Role, RoleGate, RoleHostSet } from '../role/role.js';
import type { Topology } from './topology.js';

// The endpoint as a role: the topology's load balancers, its host sets,
// gates, tasks and probe, in the words every role uses (role/role.ts).

function lbNamed(inv: Inventory, name: string): LoadBalancer {
  const lb = inv.lbs.find((h) => h.name === name);
  if (!lb) throw new Error(`${name}: not a load balancer`);
  return lb;
}

export function endpointRole(topology: Topology): Role {
  const hostSets = new Map<string, RoleHostSet>(
    [...topology.hostSets].map(([word, set]) => [word, async (view) => (await set(view)).map((lb) => lb.name)]),
  );
  const gates = new Map<string, RoleGate>(
    [...topology.gates].map(([word, gate]) => [word, (view, host, progress) => gate(view, lbNamed(view.inv, host), progress)]),
  );
  return {
    name: `the endpoint (${topology.name})`,
    hosts: (inv) => inv.lbs.map((lb) => lb.name),
    hostSets,
    tasks: new Set(topology.tasks.keys()),
    gates,
    probe: (inv) => topology.probe(inv),
    plan: (inv, host, facts, tasks, earlier) => planHost(inv, lbNamed(inv, host), facts, tasks, earlier).tasks,
    // A host whose state cannot be read counts as serving: asking costs a yes, not asking may cost an outage.
    serving: (inv, _host, session) => topology.serving(session, inv).catch(() => true),
  };
}
