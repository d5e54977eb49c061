import { InternalError } from '../errors.js';
import type { Inventory, StaticPodSettings } from '../inventory/model.js';
import { DEDICATED } from './dedicated/index.js';
import { ON_MASTERS } from './on-masters.js';
import { PROXY_ONLY } from './proxy-only.js';
import { onMastersOnly } from './roles.js';
import { staticPods } from './static-pods/index.js';
import type { EndpointTopologyName, Topology } from './topology.js';

// hosts.yaml names hosts and their lists, not a topology: the topology is
// read from them here, once.

const TOPOLOGIES: ReadonlyMap<EndpointTopologyName, Topology> = new Map<EndpointTopologyName, Topology>([
  ['dedicated', DEDICATED],
  ['on-masters', ON_MASTERS],
]);

/** The topology a person chose (kha setup asks before there is a hosts.yaml to read it from); static pods come with their images. */
export function topologyNamed(name: EndpointTopologyName, sp?: StaticPodSettings): Topology {
  if (name !== 'static-pods') return TOPOLOGIES.get(name)!;
  if (!sp) throw new InternalError('static pods are named with their settings (images, manifests directory)');
  return staticPods(sp);
}

/**
 * No lb in hosts.yaml: no VIP, the local proxy is the only endpoint. Else
 * static_pods in hosts.yaml: static pods, which the inventory's checks allow
 * only when every load balancer is a master (the InternalError below is
 * for an Inventory made without them). Else on the masters when every load
 * balancer is one of them; else dedicated load balancers (a few of which
 * may also be masters).
 */
export function topologyOf(inv: Inventory): Topology {
  if (inv.lbs.length === 0) return PROXY_ONLY;
  if (inv.staticPods !== undefined) {
    if (!onMastersOnly(inv)) throw new InternalError('static_pods with load balancers that are not masters: the inventory checks should have refused it');
    return staticPods(inv.staticPods);
  }
  return onMastersOnly(inv) ? ON_MASTERS : DEDICATED;
}
