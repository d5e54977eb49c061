import type { Inventory } from '../inventory/model.js';
import { proxyHosts } from '../topology/roles.js';
import type { Topology } from '../topology/topology.js';
import type { Drill, DrillName } from './drills.js';

// Which drills a run can offer: the topology's, less those that need what
// this inventory lacks. A topology's reasons are fixed by its kind of
// cluster; the drills from a node depend on hosts.yaml listing a host that
// runs the local proxy, which no topology decides.

export interface NotApplicable {
  name: DrillName;
  why: string;
  /** What rules it out: the kind of cluster, or what hosts.yaml lists. */
  by: 'topology' | 'inventory';
}

export const NO_PROXY_HOST = 'hosts.yaml lists no host with the local proxy (nodes:, or node_proxy.masters: true), so there is no node to measure from';

export function applicableDrills(topology: Topology, inv: Inventory): { drills: Drill[]; notApplicable: NotApplicable[] } {
  const hasProxy = proxyHosts(inv).length > 0;
  const drills = topology.drills.filter((d) => hasProxy || d.from !== 'node');
  const notApplicable: NotApplicable[] = [
    ...[...topology.drillsNotApplicable].map(([name, why]) => ({ name, why, by: 'topology' as const })),
    ...topology.drills.filter((d) => !drills.includes(d)).map((d) => ({ name: d.name, why: NO_PROXY_HOST, by: 'inventory' as const })),
  ];
  return { drills, notApplicable };
}
