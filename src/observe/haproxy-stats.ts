import type { Session } from '../transport/session.js';
import { STATS_URI } from '../render/context.js';
import { shellQuote } from '../shell/quote.js';

// haproxy's statistics as CSV from the local-only page kha configures, read
// with bash's /dev/tcp so the load balancer needs no socat or curl.

export interface ServerStats {
  backend: string;
  server: string;
  /** UP, DOWN, MAINT, "UP 1/2"... */
  status: string;
  /** Sessions sent to this server since haproxy started. */
  totalSessions: number;
  /** Sessions open to this server now (a kubelet's watch is one for hours). */
  currentSessions: number;
  /** Result of the last health check, e.g. L7OK, L4CON, L7STS. */
  checkStatus: string;
  /** The HTTP status of the last check, when it got one. */
  checkCode: string;
  checkDescription: string;
}

/**
 * What the last check found, in words: the difference between "nothing
 * listens yet" (before kubeadm), "something else listens there" and "an
 * apiserver that is not ready" decides what a person does next.
 */
export function foundByCheck(s: ServerStats): string {
  const status = s.checkStatus.replace(/^\*\s*/, '');
  const detail = s.checkDescription && s.checkDescription.toLowerCase() !== 'connection refused' ? ` (${s.checkDescription})` : '';
  switch (status) {
    case 'L7OK':
    case 'L7OKC':
      return 'answers /readyz';
    case 'L4CON':
      return `connection refused${detail}`;
    case 'L4TOUT':
      return 'no answer: the connection timed out (a firewall dropping the port, or the host down)';
    case 'L6RSP':
    case 'L6TOUT':
      return `something listens there but does not speak TLS like an apiserver${detail}`;
    case 'L7STS':
      return `answers /readyz with HTTP ${s.checkCode || '?'}: not ready${detail}`;
    case 'L7TOUT':
      return 'accepts TLS but does not answer /readyz in time';
    case 'L7RSP':
      return `answers, but not in HTTP${detail}`;
    case '':
    case 'INI':
    case 'UNK':
      return 'not checked yet';
    default:
      return `${status}${detail}`;
  }
}

/**
 * Watches, on the host itself, until haproxy's statistics show `server` in
 * `backend` as anything but UP, for at most `watchMs`. A loop there reads
 * them every 20 ms in bash alone (it forks only `sleep`, and `date` where
 * bash is older than 5.0: forking `cat | awk` and `date` per reading made
 * it 0.1–0.3 s late on a busy host), so a reading costs what haproxy's page
 * takes to answer, ~50 ms; a read over SSH each time would add its round
 * trip. The CSV's columns are found by name, as parseStatsCsv does.
 * Prints, on the host's clock (µs since the epoch), when the last reading
 * that said UP was answered (or the watch began) and when the first that
 * did not was, then the status: the change lies between the two. Nothing
 * if the server stayed UP.
 */
export function serverLeftUpCommand(monitorPort: number, backend: string, server: string, watchMs: number): string {
  const script = `now() { if [ -n "\${EPOCHREALTIME:-}" ]; then t=\${EPOCHREALTIME/[.,]/}; else t=$(date +%s%6N); fi; }
now; up=$t
end=$(( up + ${Math.ceil(watchMs)}000 ))
px=${shellQuote(backend)} sv=${shellQuote(server)}
while now; [ "$t" -lt "$end" ]; do
  if exec 3<>/dev/tcp/127.0.0.1/${monitorPort}; then
    printf 'GET ${STATS_URI};csv HTTP/1.0\\r\\n\\r\\n' >&3
    col= s=
    while IFS=, read -r -u 3 -a f; do
      if [ "\${f[0]:-}" = '# pxname' ]; then
        for i in "\${!f[@]}"; do [ "\${f[$i]}" = status ] && col=$i; done
      elif [ -n "$col" ] && [ "\${f[0]:-}" = "$px" ] && [ "\${f[1]:-}" = "$sv" ]; then
        s=\${f[$col]}
      fi
    done
    exec 3<&-
    now
    case "$s" in UP*) up=$t ;; '') ;; *) echo "$up $t $s"; exit 0 ;; esac
  fi
  sleep 0.02
done`;
  return `bash -c ${shellQuote(script)}`;
}

/** serverLeftUpCommand's answer, on the host's clock (ms since the epoch): the change came after `upAt` and by `leftAt`. */
export function parseServerLeftUp(stdout: string): { upAt: number; leftAt: number; status: string } | undefined {
  const m = /^(\d{12,}) (\d{12,}) (\S.*)$/m.exec(stdout);
  return m ? { upAt: Number(m[1]) / 1e3, leftAt: Number(m[2]) / 1e3, status: m[3]!.trim() } : undefined;
}

export function parseStatsCsv(csv: string): ServerStats[] {
  const lines = csv.split('\n').filter((l) => l.trim());
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) throw new Error('haproxy statistics: no CSV header');
  const cols = header.slice(2).split(',');
  const at = (name: string) => cols.indexOf(name);
  const [px, sv, status, stot, scur, check, code, checkDesc] = ['pxname', 'svname', 'status', 'stot', 'scur', 'check_status', 'check_code', 'last_chk'].map(at);
  return lines
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.split(','))
    .filter((f) => f[sv!] !== 'FRONTEND' && f[sv!] !== 'BACKEND')
    .map((f) => ({
      backend: f[px!] ?? '',
      server: f[sv!] ?? '',
      status: f[status!] ?? '',
      totalSessions: Number(f[stot!] ?? 0),
      currentSessions: Number(f[scur!] ?? 0),
      checkStatus: f[check!] ?? '',
      checkCode: f[code!] ?? '',
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
