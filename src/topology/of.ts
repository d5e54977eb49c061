import type { Inventory } from '../inventory/model.js';
import { DEDICATED } from './dedicated/index.js';
import { ON_MASTERS } from './on-masters.js';
import { onMastersOnly } from './roles.js';
import type { Topology, TopologyName } from './topology.js';

// hosts.yaml names hosts and their lists, not a topology: the topology is
// read from them here, once.

const TOPOLOGIES: ReadonlyMap<TopologyName, Topology> = new Map([DEDICATED, ON_MASTERS].map((t) => [t.name, t]));

/** The topology a person chose (kha setup asks before there is a hosts.yaml to read it from). */
export function topologyNamed(name: TopologyName): Topology {
  return TOPOLOGIES.get(name)!;
}

/** On the masters when every load balancer is one of them; else dedicated load balancers (a few of which may also be masters). */
export function topologyOf(inv: Inventory): Topology {
  return onMastersOnly(inv) ? ON_MASTERS : DEDICATED;
}
