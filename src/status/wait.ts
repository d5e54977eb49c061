import { InputError } from '../errors.js';
import type { Inventory, SshSettings } from '../inventory/model.js';
import { sshTarget } from '../execute/targets.js';
import { proxyHosts } from '../topology/roles.js';
import { foundByCheck, readHaproxyStats } from '../observe/haproxy-stats.js';
import { connectAll } from '../transport/ssh.js';
import type { Session } from '../transport/session.js';

// `kha status --wait`: until every load balancer's haproxy counts every
// master UP, so that a script can run `kubeadm init … && kha status --wait`.
// Without a VIP there is no load balancer: each host's local proxy counts
// instead. While it waits it says, per master, what haproxy sees, each time
// that changes.

export interface WaitResult {
  ok: boolean;
  waitedMs: number;
  /** Per master, what it was at the end: "UP", or what haproxy found and where. */
  masters: Record<string, string>;
}

const POLL_MS = 1000;

/** The hosts whose haproxy counts the masters, and the port of its statistics: the load balancers, or without a VIP each local proxy (haproxy's: nginx keeps no such count). */
export function counters(inv: Inventory): { hosts: Array<{ name: string; address: string; ssh: SshSettings }>; port: number } {
  if (inv.vip) return { hosts: inv.lbs, port: inv.haproxy.monitor_port };
  if (inv.nodeProxy?.software !== 'haproxy') {
    throw new InputError(`--wait: ${inv.file} has no VIP, and its local proxies run nginx, which counts no master UP or DOWN (node_proxy.software: haproxy does)`);
  }
  return { hosts: proxyHosts(inv), port: inv.nodeProxy.healthPort };
}

/** One line per master: UP everywhere, or what each counting haproxy found. */
async function look(inv: Inventory, sessions: ReadonlyMap<string, Session>): Promise<Record<string, string>> {
  const { hosts, port } = counters(inv);
  const perLb = await Promise.all(
    hosts.map(async (h) => {
      const s = sessions.get(h.name);
      const stats = s ? await readHaproxyStats(s, port).catch(() => undefined) : undefined;
      return { lb: h.name, stats: stats?.filter((x) => x.backend === 'kube_apiserver') };
    }),
  );
  const masters: Record<string, string> = {};
  for (const m of inv.masters) {
    const views = perLb.map(({ lb, stats }) => {
      if (!stats) return { lb, up: false, text: `${lb}: cannot read haproxy's statistics` };
      const row = stats.find((x) => x.server === m.name);
      if (!row) return { lb, up: false, text: `${lb}: not in haproxy` };
      return { lb, up: row.status === 'UP', text: `${lb}: ${row.status === 'UP' ? 'UP' : foundByCheck(row)}` };
    });
    masters[m.name] = views.every((v) => v.up) ? 'UP' : views.filter((v) => !v.up).map((v) => v.text).join('; ');
  }
  return masters;
}

export async function waitForMasters(inv: Inventory, seconds: number, say: (line: string) => void): Promise<WaitResult> {
  const started = Date.now();
  const { hosts } = counters(inv);
  const connected = await connectAll(hosts.map((h) => sshTarget(h)));
  const sessions = new Map(connected.flatMap((c) => (c.session ? [[c.target.name, c.session] as const] : [])));
  for (const c of connected) if (!c.session) say(`${c.target.name}: unreachable (${c.error.message}); waiting on the others`);
  try {
    let last: Record<string, string> = {};
    for (;;) {
      const now = await look(inv, sessions);
      for (const [m, state] of Object.entries(now)) if (last[m] !== state) say(`${m}: ${state}`);
      last = now;
      const ok = Object.values(now).every((s) => s === 'UP') && sessions.size === hosts.length;
      const waitedMs = Date.now() - started;
      if (ok || waitedMs >= seconds * 1000) return { ok, waitedMs, masters: now };
      await new Promise((r) => setTimeout(r, Math.min(POLL_MS, seconds * 1000 - waitedMs)));
    }
  } finally {
    await Promise.allSettled([...sessions.values()].map((s) => s.close()));
  }
}
