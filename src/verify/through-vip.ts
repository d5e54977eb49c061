import type { Inventory } from '../inventory/model.js';
import { readHaproxyStats, type ServerStats } from '../observe/haproxy-stats.js';
import { probeHealthz } from '../probe/https.js';
import type { Session } from '../transport/session.js';

// The last stage of apply: clients reach the apiservers through the VIP, and
// every master receives connections. Which master served a request is read
// from the holder's haproxy counters, so this works with real apiservers.

export interface VipCheck {
  requests: number;
  succeeded: number;
  failures: string[];
  /** Sessions each master received during the check. */
  perMaster: Record<string, number>;
  down: ServerStats[];
  ok: boolean;
}

/** How long haproxy may take to count every apiserver UP again (rise x downinter, with room) before the check. */
const SETTLE_MS = 10_000;

const notUp = (stats: readonly ServerStats[]) => stats.filter((s) => s.backend === 'kube_apiserver' && !s.status.startsWith('UP'));

export async function checkThroughVip(inv: Inventory, holder: Session): Promise<VipCheck> {
  // A master haproxy has just marked down (a slow check on a busy host) gets
  // no connection until it rises again: wait for that first, so the check
  // judges the masters and not the moment it happened to start.
  let before = await readHaproxyStats(holder, inv.haproxy.monitor_port);
  for (const until = Date.now() + SETTLE_MS; notUp(before).length > 0 && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 250));
    before = await readHaproxyStats(holder, inv.haproxy.monitor_port);
  }
  const requests = Math.max(6, inv.masters.length * 4);
  const results = [];
  for (let i = 0; i < requests; i++) results.push(await probeHealthz(inv.vip.address, inv.port, 3000));
  const after = await readHaproxyStats(holder, inv.haproxy.monitor_port);
  const perMaster: Record<string, number> = {};
  for (const m of inv.masters) {
    const b = before.find((s) => s.backend === 'kube_apiserver' && s.server === m.name)?.totalSessions ?? 0;
    const a = after.find((s) => s.backend === 'kube_apiserver' && s.server === m.name)?.totalSessions ?? 0;
    perMaster[m.name] = a - b;
  }
  const down = notUp(after);
  const failures = results.filter((r) => !r.ok).map((r) => r.error ?? `HTTP ${r.status}`);
  const succeeded = results.length - failures.length;
  return {
    requests,
    succeeded,
    failures,
    perMaster,
    down,
    ok: succeeded === requests && down.length === 0 && Object.values(perMaster).every((n) => n > 0),
  };
}
