import { interfaceFor } from '../facts/derived.js';
import type { HostFacts, ProbeRequest } from '../facts/types.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import { NODE_PROXY_TASKS, nodeProxyProbe } from '../node-proxy/tasks.js';
import { renderLoadBalancer, renderNodeProxy } from '../render/render.js';
import { hostRoles } from '../topology/roles.js';
import type { TaskContext } from '../tasks/context.js';
import { topologyOf } from '../topology/of.js';
import type { Change } from './changes.js';

// inventory + facts → the changes each task would make. Pure: the same
// function serves --dry-run and apply, so they cannot drift apart.

export interface TaskPlan {
  task: string;
  changes: Change[];
}

export interface HostPlan {
  host: string;
  tasks: TaskPlan[];
}

/** What the probe must look at on a load balancer for the tasks to decide. */
export function probeRequest(inv: Inventory): ProbeRequest {
  return topologyOf(inv).probe(inv);
}

/** Two probe requests as one: every file, service and package either asks about. */
function mergeProbes(a: ProbeRequest, b: ProbeRequest): ProbeRequest {
  const union = <T>(x: readonly T[], y: readonly T[]) => [...new Set([...x, ...y])];
  return {
    vip: a.vip,
    files: union(a.files, b.files),
    directories: union(a.directories, b.directories),
    services: union(a.services, b.services),
    sysctls: union(a.sysctls, b.sysctls),
    selinuxBooleans: union(a.selinuxBooleans, b.selinuxBooleans),
    apiservers: a.apiservers.length > 0 ? a.apiservers : b.apiservers,
    packages: union(a.packages ?? [], b.packages ?? []),
  };
}

/** What the probe must look at on one host, for the tasks of every role it has (topology/roles.ts hostRoles). */
export function probeFor(inv: Inventory, name: string): ProbeRequest {
  const { lb, proxy } = hostRoles(inv, name);
  const requests = [...(lb ? [probeRequest(inv)] : []), ...(proxy ? [nodeProxyProbe(inv)] : [])];
  if (requests.length === 0) throw new Error(`${name}: no role kha converges`);
  return requests.reduce(mergeProbes);
}

/**
 * One host's plan for the tasks of every role it has: a playbook task of the
 * topology plans on a load balancer, one of the local proxy
 * (node-proxy/tasks.ts) on a proxy host; a task of a role the host lacks is
 * not its. Apply plans every host this way.
 */
export function planRoles(inv: Inventory, name: string, facts: HostFacts, tasks: readonly string[], earlier: readonly Change[] = []): HostPlan {
  const { lb, proxy } = hostRoles(inv, name);
  const lbTasks = tasks.filter((t) => !NODE_PROXY_TASKS.has(t));
  const result: HostPlan = lb && lbTasks.length > 0 ? planHost(inv, lb, facts, lbTasks, earlier) : { host: name, tasks: [] };
  if (!proxy) return result;
  const files = renderNodeProxy(inv, proxy);
  const planned: Change[] = [...earlier, ...result.tasks.flatMap((t) => t.changes)];
  for (const task of tasks.flatMap((t) => NODE_PROXY_TASKS.get(t) ?? [])) {
    const changes = task.plan({ inv, host: proxy, facts, files, planned, alsoLoadBalancer: lb !== undefined });
    planned.push(...changes);
    result.tasks.push({ task: task.name, changes });
  }
  return result;
}

/**
 * A load balancer's plan for its topology's tasks.
 * `earlier`: changes already carried out on this host in this run (by an
 * earlier stage), which later tasks react to as if planned with them.
 */
export function planHost(inv: Inventory, lb: LoadBalancer, facts: HostFacts, tasks: readonly string[], earlier: readonly Change[] = []): HostPlan {
  const iface = interfaceFor(lb, facts);
  if (iface === undefined) throw new Error(`${lb.name}: no interface known (preflight should have stopped here)`);
  const topology = topologyOf(inv);
  const files = renderLoadBalancer(inv, lb, iface);
  const planned: Change[] = [...earlier];
  const result: HostPlan = { host: lb.name, tasks: [] };
  for (const name of tasks) {
    const task = topology.tasks.get(name);
    if (!task) throw new Error(`unknown task ${name}`);
    const ctx: TaskContext = { inv, lb, facts, files, planned, services: topology.services };
    const changes = task.plan(ctx);
    planned.push(...changes);
    result.tasks.push({ task: name, changes });
  }
  return result;
}

export function countChanges(plan: HostPlan): { changed: number; ok: number } {
  return {
    changed: plan.tasks.reduce((n, t) => n + t.changes.length, 0),
    ok: plan.tasks.filter((t) => t.changes.length === 0).length,
  };
}
