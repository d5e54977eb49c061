import type { HostFacts, ProbeRequest } from '../facts/types.js';
import type { Inventory } from '../inventory/model.js';
import { KUBELET_ROLE } from '../kubelet/role.js';
import { NODE_PROXY_ROLE } from '../node-proxy/role.js';
import type { Change } from '../plan/changes.js';
import type { HostPlan } from '../plan/plan.js';
import { endpointRole } from '../topology/endpoint-role.js';
import { topologyOf } from '../topology/of.js';
import type { Topology } from '../topology/topology.js';
import type { Role } from './role.js';

// Every role kha converges, and what follows for one host from the roles it
// has: what to probe, what to plan. The endpoint comes first: a host that is
// also a node gets its load balancer's tasks planned before the proxy's,
// which react to them (a haproxy package already coming).

/** The roles of a cluster of this topology, in the order their tasks plan on a host that has several. */
export function rolesWith(topology: Topology): readonly Role[] {
  return [endpointRole(topology), NODE_PROXY_ROLE, KUBELET_ROLE];
}

export function rolesFor(inv: Inventory): readonly Role[] {
  return rolesWith(topologyOf(inv));
}

/** The role whose stages run on this host set. */
export function roleOfHostSet(roles: readonly Role[], word: string): Role | undefined {
  return roles.find((r) => r.hostSets.has(word));
}

/** Two probe requests as one: every file, service and package either asks about. */
function mergeProbes(a: ProbeRequest, b: ProbeRequest): ProbeRequest {
  const union = <T>(x: readonly T[], y: readonly T[]) => [...new Set([...x, ...y])];
  const vip = a.vip ?? b.vip;
  const portsOwner = a.portsOwner ?? b.portsOwner;
  return {
    ...(vip !== undefined && { vip }),
    ...(portsOwner !== undefined && { portsOwner }),
    files: union(a.files, b.files),
    directories: union(a.directories, b.directories),
    services: union(a.services, b.services),
    sysctls: union(a.sysctls, b.sysctls),
    selinuxBooleans: union(a.selinuxBooleans, b.selinuxBooleans),
    apiservers: a.apiservers.length > 0 ? a.apiservers : b.apiservers,
    packages: union(a.packages ?? [], b.packages ?? []),
    ports: union(a.ports ?? [], b.ports ?? []),
  };
}

/** What the probe must look at on one host, for the tasks of every role it has. */
export function probeFor(inv: Inventory, name: string): ProbeRequest {
  const requests = rolesFor(inv)
    .filter((r) => r.hosts(inv).includes(name))
    .map((r) => r.probe(inv));
  if (requests.length === 0) throw new Error(`${name}: no role kha converges`);
  return requests.reduce(mergeProbes);
}

/**
 * One host's plan for the tasks of every role it has: each task plans for
 * the role that owns it, if the host has that role (a task of a role the
 * host lacks is not its). Apply plans every host this way.
 */
export function planRoles(inv: Inventory, name: string, facts: HostFacts, tasks: readonly string[], earlier: readonly Change[] = []): HostPlan {
  const result: HostPlan = { host: name, tasks: [] };
  const planned: Change[] = [...earlier];
  for (const role of rolesFor(inv)) {
    const own = tasks.filter((t) => role.tasks.has(t));
    if (own.length === 0 || !role.hosts(inv).includes(name)) continue;
    for (const t of role.plan(inv, name, facts, own, planned)) {
      planned.push(...t.changes);
      result.tasks.push(t);
    }
  }
  return result;
}
