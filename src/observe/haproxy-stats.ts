import type { Session } from '../transport/session.js';
import { STATS_URI } from '../render/context.js';
import { shellQuote } from '../transport/shell-quote.js';

// haproxy's statistics as CSV from the local-only page kha configures, read
// with bash's /dev/tcp so the load balancer needs no socat or curl.

export interface ServerStats {
  backend: string;
  server: string;
  /** UP, DOWN, MAINT, "UP 1/2"... */
  status: string;
  /** Sessions sent to this server since haproxy started. */
  totalSessions: number;
  /** Result of the last health check, e.g. L7OK, L4CON, L7STS. */
  checkStatus: string;
  checkDescription: string;
}

export function parseStatsCsv(csv: string): ServerStats[] {
  const lines = csv.split('\n').filter((l) => l.trim());
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) throw new Error('haproxy statistics: no CSV header');
  const cols = header.slice(2).split(',');
  const at = (name: string) => cols.indexOf(name);
  const [px, sv, status, stot, check, checkDesc] = ['pxname', 'svname', 'status', 'stot', 'check_status', 'last_chk'].map(at);
  return lines
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.split(','))
    .filter((f) => f[sv!] !== 'FRONTEND' && f[sv!] !== 'BACKEND')
    .map((f) => ({
      backend: f[px!] ?? '',
      server: f[sv!] ?? '',
      status: f[status!] ?? '',
      totalSessions: Number(f[stot!] ?? 0),
      checkStatus: f[check!] ?? '',
      checkDescription: f[checkDesc!] ?? '',
    }));
}

export async function readHaproxyStats(session: Session, monitorPort: number): Promise<ServerStats[]> {
  const script = `exec 3<>/dev/tcp/127.0.0.1/${monitorPort} || exit 3
printf 'GET ${STATS_URI};csv HTTP/1.0\\r\\n\\r\\n' >&3
timeout 5 cat <&3`;
  const r = await session.exec(`bash -c ${shellQuote(script)}`, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`cannot read haproxy statistics on 127.0.0.1:${monitorPort} (exit ${r.code}): is haproxy running?`);
  const body = r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4);
  return parseStatsCsv(body);
}
