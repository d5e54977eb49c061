import type { HostFacts } from '../facts/types.js';
import type { Inventory } from '../inventory/model.js';
import { markerPath } from '../tasks/services.js';

/**
 * kha's keepalived has loaded its configuration on every load balancer. The
 * checks that listen for VRRP then hear our own group, whose adverts already
 * cross every path: they have nothing left to find.
 */
export function keepalivedConverged(inv: Inventory, facts: ReadonlyMap<string, HostFacts>): boolean {
  return inv.lbs.every((lb) => facts.get(lb.name)?.files.find((f) => f.path === markerPath('keepalived'))?.content);
}
