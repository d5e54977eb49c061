import { interfaceFor } from '../facts/derived.js';
import type { HostFacts, ProbeRequest } from '../facts/types.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import { LB_FILES } from '../render/catalog.js';
import { renderLoadBalancer } from '../render/render.js';
import type { TaskContext } from '../tasks/context.js';
import { requiredDirectories } from '../tasks/directories.js';
import { UFW_BEFORE_RULES } from '../tasks/firewall.js';
import { TASKS } from '../tasks/index.js';
import { SELINUX_BOOLEANS, SELINUX_CONFIG } from '../tasks/selinux.js';
import { markerPath, SERVICES } from '../tasks/services.js';
import { SEEN_PATH } from '../verify/apiservers-seen.js';
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
  return {
    vip: inv.vip.address,
    files: [...LB_FILES.map((f) => f.path), ...SERVICES.map(markerPath), SEEN_PATH, SELINUX_CONFIG, UFW_BEFORE_RULES],
    directories: requiredDirectories(inv.haproxy.stats_socket),
    services: [...SERVICES],
    sysctls: ['net.ipv4.ip_nonlocal_bind'],
    selinuxBooleans: [...SELINUX_BOOLEANS],
    apiservers: inv.masters.map((m) => ({ name: m.name, address: m.address, port: m.apiserverPort })),
  };
}

/**
 * `earlier`: changes already carried out on this host in this run (by an
 * earlier stage), which later tasks react to as if planned with them.
 */
export function planHost(inv: Inventory, lb: LoadBalancer, facts: HostFacts, tasks: readonly string[], earlier: readonly Change[] = []): HostPlan {
  const iface = interfaceFor(lb, facts);
  if (iface === undefined) throw new Error(`${lb.name}: no interface known (preflight should have stopped here)`);
  const files = renderLoadBalancer(inv, lb, iface);
  const planned: Change[] = [...earlier];
  const result: HostPlan = { host: lb.name, tasks: [] };
  for (const name of tasks) {
    const task = TASKS.get(name);
    if (!task) throw new Error(`unknown task ${name}`);
    const ctx: TaskContext = { inv, lb, facts, files, planned };
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
