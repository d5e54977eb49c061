import type { Clock } from '../observe/clock.js';
import type { Session } from '../transport/session.js';
import { LOOP_HEAD, startRemoteLoop } from './remote-probe.js';
import {
  CLIENT_GO_PING_TIMEOUT_MS,
  CLIENT_GO_READ_IDLE_MS,
  RECONNECT_DELAY_MS,
  type EndedHow,
  type StreamConnection,
  type StreamKind,
  type StreamRecord,
  type StreamTarget,
} from './streams.js';

// The held streams of streams.ts run on a host inside the cluster
// (--probe-from): what a kubelet's watch there lives through, which can
// differ from the operator's (another ARP cache; or the host is a load
// balancer and loses the VIP itself, so its client's connection was local).
// The same two kinds, the same reconnect, in Python on the host, as the 50 ms
// probe there (remote-probe.ts).

/**
 * One thread per kind. Prints `O kind ns` when a connection opens, `E kind ns
 * n master` when n events arrive, `X kind ns how detail` when it ends (not
 * when the loop is told to stop).
 */
export const STREAM_LOOP = `${LOOP_HEAD}idle, ping_timeout, reconnect, most = (float(x) for x in sys.argv[5:9])
begin = time.monotonic()
def out(*words):
    with lock:
        print(*words, flush=True)
def running():
    return not os.path.exists(stop) and time.monotonic() - begin < most
def once(kind):
    out('O', kind, time.time_ns())
    how, detail = 'error', 'closed'
    try:
        tls = ctx.wrap_socket(socket.create_connection((host, port), timeout=1))
        tls.sendall(('GET %s HTTP/1.1\\r\\nHost: %s\\r\\nAccept: application/json\\r\\n\\r\\n' % (path, host)).encode())
        tls.settimeout(0.2)
        head, master, last, pinged = b'', '-', time.monotonic(), None
        while running():
            try:
                chunk = tls.recv(65536)
            except socket.timeout:
                now = time.monotonic()
                if kind == 'client-go' and pinged is None and now - last >= idle:
                    tls.sendall(b'\\r\\n')
                    pinged = now
                elif pinged is not None and now - pinged >= ping_timeout:
                    how, detail = 'timeout', 'no answer %g s after a ping' % ping_timeout
                    break
                continue
            t = time.time_ns()
            if not chunk:
                how, detail = 'fin', ''
                break
            last, pinged = time.monotonic(), None
            if head is not None:
                head += chunk
                if b'\\r\\n\\r\\n' not in head:
                    continue
                lines = head.split(b'\\r\\n')
                status = lines[0].split(b' ')[1] if lines[0].startswith(b'HTTP/1.') else b'?'
                for line in lines:
                    if line.lower().startswith(b'x-kha-lab-master:'):
                        master = line.split(b':', 1)[1].strip().decode() or '-'
                if status != b'200':
                    detail = 'HTTP %s on %s' % (status.decode(), path)
                    break
                chunk, head = head, None
            n = chunk.count(b'"seq"')
            if n:
                out('E', kind, t, n, master)
        else:
            return
    except ConnectionResetError:
        how, detail = 'rst', 'ECONNRESET'
    except ssl.SSLEOFError:
        how, detail = 'fin', ''
    except socket.timeout:
        detail = 'connect timed out'
    except OSError as e:
        detail = e.strerror or type(e).__name__
    out('X', kind, time.time_ns(), how, detail)
def stream(kind):
    while running():
        once(kind)
        time.sleep(reconnect)
for kind in ('plain', 'client-go'):
    threading.Thread(target=stream, args=(kind,), daemon=True).start()
while running():
    time.sleep(0.1)
`;

const KINDS: readonly StreamKind[] = ['plain', 'client-go'];
const HOW: readonly EndedHow[] = ['rst', 'fin', 'error', 'timeout'];

/** The loop's lines as one record per kind, named for the host: times on the drill's clock. */
export function parseRemoteStreams(stdout: string, host: string, toDrillMs: (remoteEpochMs: number) => number): StreamRecord[] {
  const records = new Map(KINDS.map((kind) => [kind, { name: `${kind} from ${host}`, kind, connections: [] as StreamConnection[] }]));
  for (const line of stdout.split('\n')) {
    const [what, kind, ns, ...rest] = line.trim().split(' ');
    const record = records.get(kind as StreamKind);
    if (!record || !ns || !/^\d+$/.test(ns)) continue;
    const t = toDrillMs(Number(ns) / 1e6);
    const c = record.connections.at(-1);
    if (what === 'O') record.connections.push({ openedAt: t, events: [] });
    else if (what === 'E' && c) {
      for (let n = Number(rest[0]); n > 0; n--) c.events.push(t);
      if (rest[1] && rest[1] !== '-') c.master = rest[1];
    } else if (what === 'X' && c && HOW.includes(rest[0] as EndedHow)) {
      const detail = rest.slice(1).join(' ');
      c.ended = { t, how: rest[0] as EndedHow, ...(detail && { detail }) };
    }
  }
  return [...records.values()];
}

export interface RemoteStreams {
  host: string;
  /** The records, or why none came (the host could not report). */
  stop(): Promise<{ records: StreamRecord[]; error?: string }>;
}

/** Starts both kinds of stream on the host, to the VIP; `clock` is that host's. */
export function startRemoteStreams(target: StreamTarget, session: Session, clock: Clock, t0: number, maxMs: number): RemoteStreams {
  const args = [target.host, target.port, target.path, CLIENT_GO_READ_IDLE_MS / 1000, CLIENT_GO_PING_TIMEOUT_MS / 1000, RECONNECT_DELAY_MS / 1000, maxMs / 1000];
  const loop = startRemoteLoop(session, clock, t0, maxMs, STREAM_LOOP, args);
  return {
    host: session.host,
    async stop() {
      try {
        return { records: parseRemoteStreams(await loop.stop(), session.host, loop.toDrillMs) };
      } catch (e) {
        return { records: [], error: e instanceof Error ? e.message : String(e) };
      }
    },
  };
}

/** Why a host's streams cannot be measured: it could not report, or one had no event before the fault. */
export function whyNotFlowing(r: { records: StreamRecord[]; error?: string }, fault: number | undefined): string | undefined {
  if (r.error !== undefined) return r.error;
  const idle = r.records.find((rec) => !rec.connections.some((c) => c.events.some((t) => fault === undefined || t < fault)));
  if (!idle) return undefined;
  const why = idle.connections.map((c) => c.ended?.detail).find((d) => d);
  return `${idle.name} had no event before the fault (${why ?? 'nothing came'})`;
}
