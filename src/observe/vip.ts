import { type Inventory, type LoadBalancer, vipOf } from '../inventory/model.js';
import type { Session } from '../transport/session.js';

// Where the VIP is right now, asked of the hosts themselves: the one check
// that apply's gates, its stage order and the drills all depend on.

/**
 * A shell command that exits 0 when this host holds the VIP: on any interface
 * but lo, where a holder keeps it too and the release script leaves it for a
 * moment after it left (templates/kha-release-connections.sh.ejs), without
 * the host answering for it.
 */
export function vipPresentCommand(inv: Inventory): string {
  return `ip -o -4 addr show | grep -v '^[0-9]*: lo ' | grep -q ' inet ${vipOf(inv).address}/'`;
}

/** The load balancers holding the VIP now; a host that does not answer counts as not holding it. */
export async function vipHolders(inv: Inventory, sessions: ReadonlyMap<string, Session>, timeoutMs = 5000): Promise<LoadBalancer[]> {
  const held = await Promise.all(
    inv.lbs.map(async (lb) => {
      const session = sessions.get(lb.name);
      if (!session) return undefined;
      const r = await session.exec(vipPresentCommand(inv), { timeoutMs }).catch(() => ({ code: 1 }));
      return r.code === 0 ? lb : undefined;
    }),
  );
  return held.filter((lb): lb is LoadBalancer => lb !== undefined);
}
