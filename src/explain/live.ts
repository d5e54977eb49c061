import { lbTargets } from '../execute/targets.js';
import type { Inventory } from '../inventory/model.js';
import { vipPresentCommand } from '../observe/vip.js';
import { topologyOf } from '../topology/of.js';
import type { Session } from '../transport/session.js';
import { connectAll } from '../transport/ssh.js';
import type { LiveHost, LiveState } from './explain.js';

// What `kha explain` needs from each load balancer, read as status reads it
// and changing nothing: keepalived's state from its journal, and whether the
// host holds the VIP. The effective priority follows from the state
// (explain.ts effectivePriority): kha's only tracked script has weight 0, so
// keepalived advertises its configured priority or, in FAULT, nothing. Its
// own data dump (SIGUSR1 to /tmp/keepalived.data) would say the same at the
// price of signalling a production daemon and racing for a file in /tmp.

const VIP_CHECK_TIMEOUT_MS = 5000;

export async function readLiveHost(inv: Inventory, session: Session): Promise<LiveHost> {
  try {
    const [vrrp, vip] = await Promise.all([topologyOf(inv).vrrpState(session), session.exec(vipPresentCommand(inv), { timeoutMs: VIP_CHECK_TIMEOUT_MS })]);
    return { name: session.host, reachable: true, vrrp, holdsVip: vip.code === 0 };
  } catch (err) {
    return { name: session.host, reachable: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Every load balancer at once; one that cannot be reached is reported as such, never fatal. */
export async function readLiveState(inv: Inventory): Promise<LiveState> {
  const connected = await connectAll(lbTargets(inv));
  try {
    const hosts = await Promise.all(
      connected.map((c): Promise<LiveHost> | LiveHost =>
        c.session ? readLiveHost(inv, c.session) : { name: c.target.name, reachable: false, error: c.error.message },
      ),
    );
    return { hosts };
  } finally {
    await Promise.allSettled(connected.map((c) => c.session?.close()));
  }
}
