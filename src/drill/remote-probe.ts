import { randomBytes } from 'node:crypto';
import { HostError } from '../errors.js';
import type { Clock } from '../observe/clock.js';
import { type Inventory, vipOf } from '../inventory/model.js';
import type { Session } from '../transport/session.js';
import { shellQuote as q } from '../shell/quote.js';
import type { Sample } from './timeline.js';
import { PROBE_CONNECT_TIMEOUT_MS, PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS, type Recorder } from './watch.js';

// The 50 ms probe run on a host inside the cluster: what a kubelet on that
// host sees, which can differ from the operator's view. With --probe-from it
// asks the VIP (the host may hold the VIP itself, or sit behind another ARP
// cache); in a drill from a node it asks the node's local proxy on
// 127.0.0.1. The loop runs on the host and reports when it is told to stop;
// its clock is mapped onto the operator's through the round trip that
// measured the offset.

export interface RemoteProbe extends Recorder<Sample> {
  host: string;
  /** Half the round trip of the best clock reading: remote times are exact to within this. */
  clockUncertaintyMs: number;
  /** Set by stop() when the host could not report (its connection was lost). */
  error?: string;
}

/** How every loop on a host begins: its stop file and target from argv, a TLS context that checks no certificate (a drill measures whether the endpoint answers, not whom it trusts), and a lock for its lines of output. */
export const LOOP_HEAD = `import os, socket, ssl, sys, threading, time
stop, host, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
lock = threading.Lock()
`;

/**
 * One Python process on the host makes the requests, each on a thread of its
 * own: a process per request (curl every 50 ms) costs a small host more CPU
 * than it has, and the probe would then measure its own load. Python 3 is
 * on every supported distribution (RHEL 8 minimal: platform-python).
 */
export const LOOP = `${LOOP_HEAD}interval, connect_timeout, timeout, most = (float(x) for x in sys.argv[5:9])
def one():
    start = time.time_ns()
    status, error = 0, ''
    try:
        raw = socket.create_connection((host, port), timeout=connect_timeout)
        raw.settimeout(max(0.01, timeout - (time.time_ns() - start) / 1e9))
        tls = ctx.wrap_socket(raw)
        tls.sendall(('GET %s HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n' % (path, host)).encode())
        head = b''
        while b'\\r\\n' not in head:
            chunk = tls.recv(4096)
            if not chunk:
                break
            head += chunk
        tls.close()
        status = int(head.split(b' ')[1]) if head.startswith(b'HTTP/') else 0
        if status == 0:
            error = 'empty reply'
    except socket.timeout:
        error = 'timed out'
    except ConnectionRefusedError:
        error = 'connection refused'
    except ConnectionResetError:
        error = 'connection reset'
    except ssl.SSLError:
        error = 'TLS handshake failed'
    except OSError as e:
        error = e.strerror or 'error'
    end = time.time_ns()
    with lock:
        print(start, end, status, error, flush=True)
begin, n = time.monotonic(), 0
while not os.path.exists(stop) and time.monotonic() - begin < most:
    threading.Thread(target=one, daemon=True).start()
    n += 1
    time.sleep(max(0, begin + n * interval - time.monotonic()))
time.sleep(timeout + 0.2)
`;

/** Refuses a probe host that cannot run the loop, before any drill starts. */
export async function checkProbeHost(session: Session): Promise<void> {
  const r = await session.exec('command -v python3 >/dev/null && command -v date >/dev/null', { timeoutMs: 10_000 });
  if (r.code !== 0) throw new HostError(session.host, 'probe-from', 'needs python3 on that host (apt-get install python3-minimal, or dnf install python3)');
}

/** One line per request: start and end in ns since the epoch, the HTTP status (0: none), why it failed. */
export function parseRemoteSamples(stdout: string, toDrillMs: (remoteEpochMs: number) => number): Sample[] {
  const samples: Sample[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(\d+) (\d+) (\d+) ?(.*)$/.exec(line.trim());
    if (!m) continue;
    const start = Number(m[1]) / 1e6;
    const sample: Sample = { t: toDrillMs(start), ms: Number(m[2]) / 1e6 - start, ok: m[3] === '200' };
    if (!sample.ok) sample.error = m[4] || `HTTP ${m[3]}`;
    samples.push(sample);
  }
  return samples.sort((a, b) => a.t - b.t);
}

/** Where the loop sends its requests, from the host it runs on. */
export interface ProbeTarget {
  host: string;
  port: number;
  path: string;
}

/** The VIP, as the operator's own probe asks it (watch.ts). */
export function vipTarget(inv: Inventory): ProbeTarget {
  return { host: vipOf(inv).address, port: inv.port, path: '/healthz' };
}

/** A node's local proxy, asked for the path its checks ask each apiserver: what the node's kubelet reaches. */
export function proxyTarget(inv: Inventory): ProbeTarget | undefined {
  return inv.nodeProxy && { host: '127.0.0.1', port: inv.nodeProxy.port, path: inv.haproxy.health_path };
}

export function targetUrl(t: ProbeTarget): string {
  return `https://${t.host}:${t.port}${t.path}`;
}

/** A Python loop running on a host until told to stop: its output, and its clock mapped onto the drill's. */
export interface RemoteLoop {
  /** Stops the loop and gives what it printed; throws when the host could not report. */
  stop(): Promise<string>;
  /** A time the host printed (ms since the epoch by its clock) on the drill's clock. */
  toDrillMs(remoteEpochMs: number): number;
}

/** Starts `loop` (Python 3 source) on the host with `args` after its stop file; `clock` is that host's, measured once for the whole run. */
export function startRemoteLoop(session: Session, clock: Clock, t0: number, maxMs: number, loop: string, args: readonly (string | number)[]): RemoteLoop {
  // Several loops may run on one host at once (--probe-from naming the node of a drill from a node): one stop file each.
  const stop = `/run/kha-probe-${process.pid}-${Math.round(t0)}-${randomBytes(3).toString('hex')}.stop`;
  const script = `python3 -c ${q(loop)} ${[stop, ...args].map((a) => q(String(a))).join(' ')}; rm -f ${stop}`;
  const running = session.exec(script, { timeoutMs: maxMs + 10_000 });
  const t0Epoch = performance.timeOrigin + t0;
  return {
    async stop() {
      await session.exec(`touch ${stop}`, { timeoutMs: 5000 }).catch(() => undefined);
      return (await running).stdout;
    },
    toDrillMs: (remote) => remote - clock.offsetMs - t0Epoch,
  };
}

/** Starts the 50 ms probe on the host. */
export function startRemoteClient(target: ProbeTarget, session: Session, clock: Clock, t0: number, maxMs: number): RemoteProbe {
  const args = [target.host, target.port, target.path, PROBE_INTERVAL_MS / 1000, PROBE_CONNECT_TIMEOUT_MS / 1000, PROBE_TIMEOUT_MS / 1000, maxMs / 1000];
  const loop = startRemoteLoop(session, clock, t0, maxMs, LOOP, args);
  const probe: RemoteProbe = {
    host: session.host,
    clockUncertaintyMs: clock.uncertaintyMs,
    async stop() {
      try {
        return parseRemoteSamples(await loop.stop(), loop.toDrillMs);
      } catch (e) {
        probe.error = e instanceof Error ? e.message : String(e);
        return [];
      }
    },
  };
  return probe;
}
