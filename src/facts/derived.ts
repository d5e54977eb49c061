import { parseCidr } from '../inventory/addresses.js';
import { isInterfaceName } from '../inventory/interface-name.js';
import { type Inventory, type LoadBalancer, vipOf } from '../inventory/model.js';
import type { HostFacts } from './types.js';

// Answers drawn from a host's facts and the inventory together, shared by
// the planner, preflight and the tasks.

/** The VIP on an interface other than lo, where the release script only parks it (observe/vip.ts). */
export function holdsVip(inv: Inventory, facts: HostFacts): boolean {
  return facts.interfaces.some((i) => i.name !== 'lo' && i.addresses.some((a) => parseCidr(a).address === vipOf(inv).address));
}

/**
 * The interface carrying the VIP: hosts.yaml's, else the one the kernel
 * routes the VIP through. A name read from the host is checked as one from
 * hosts.yaml is: a name kha could not write safely is no answer.
 */
export function interfaceFor(lb: LoadBalancer, facts: HostFacts): string | undefined {
  if (lb.interface !== undefined) return lb.interface;
  return facts.routeToVip !== null && isInterfaceName(facts.routeToVip) ? facts.routeToVip : undefined;
}
