import { parseCidr } from '../inventory/addresses.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import type { HostFacts } from './types.js';

// Answers drawn from a host's facts and the inventory together, shared by
// the planner, preflight and the tasks.

export function holdsVip(inv: Inventory, facts: HostFacts): boolean {
  return facts.interfaces.some((i) => i.addresses.some((a) => parseCidr(a).address === inv.vip.address));
}

/** The interface carrying the VIP: hosts.yaml's, else the one the kernel routes the VIP through. */
export function interfaceFor(lb: LoadBalancer, facts: HostFacts): string | undefined {
  return lb.interface ?? facts.routeToVip ?? undefined;
}
