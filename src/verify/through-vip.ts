import { type Inventory, vipOf } from '../inventory/model.js';
import { readHaproxyStats, type ServerStats } from '../observe/haproxy-stats.js';
import { probeHealthz } from '../probe/https.js';
import type { Session } from '../transport/session.js';

// Clients reach the apiservers through the VIP, and every master that is up
// receives connections. Which master served a request is read from the
// holder's haproxy counters, so this works with real apiservers. With
// leastconn a master that already holds long-lived connections (kubelets'
// watches) may get none of the check's short ones: those it holds count as
// reached.

export interface VipCheck {
  requests: number;
  succeeded: number;
  failures: string[];
  /** Sessions each master received during the check. */
  perMaster: Record<string, number>;
  /** Sessions open to each master after the check: held through the VIP. */
  holding: Record<string, number>;
}

const sessionsOf = (stats: readonly ServerStats[], name: string) =>
  stats.find((s) => s.backend === 'kube_apiserver' && s.server === name)?.totalSessions ?? 0;

/** `up`: the masters haproxy counts UP, each of which must receive connections. */
export async function checkThroughVip(inv: Inventory, holder: Session, up: readonly string[]): Promise<VipCheck> {
  const before = await readHaproxyStats(holder, inv.haproxy.monitor_port);
  const requests = Math.max(6, up.length * 4);
  const results = [];
  for (let i = 0; i < requests; i++) results.push(await probeHealthz(vipOf(inv).address, inv.port, 3000));
  const after = await readHaproxyStats(holder, inv.haproxy.monitor_port);
  const perMaster = Object.fromEntries(up.map((m) => [m, sessionsOf(after, m) - sessionsOf(before, m)]));
  const holding = Object.fromEntries(up.map((m) => [m, after.find((s) => s.backend === 'kube_apiserver' && s.server === m)?.currentSessions ?? 0]));
  const failures = results.filter((r) => !r.ok).map((r) => r.error ?? `HTTP ${r.status}`);
  return { requests, succeeded: results.length - failures.length, failures, perMaster, holding };
}
