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

export async function checkThroughVip(inv: Inventory, holder: Session): Promise<VipCheck> {
  const before = await readHaproxyStats(holder, inv.haproxy.monitor_port);
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
  const down = after.filter((s) => s.backend === 'kube_apiserver' && !s.status.startsWith('UP'));
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
