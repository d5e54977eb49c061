import { interfaceFor } from '../facts/derived.js';
import type { HostFacts, ProbeRequest } from '../facts/types.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import { renderLoadBalancer } from '../render/render.js';
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
