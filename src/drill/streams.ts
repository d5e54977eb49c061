import { connect, type TLSSocket } from 'node:tls';

// Long-lived connections through the VIP, opened before a drill's fault:
// what a kubelet's or a controller's watch lives through. Each stream reads
// events from the apiserver (the lab's stand-in streams one every 100 ms on
// /watch) and, when its connection ends, reconnects at once, as a reflector
// re-watches. What matters is how it ended and how long it was stuck: a
// client whose connection died silently waits for its own timeout.

/** How a client learns that its connection is gone. */
export type StreamKind =
  /** Default TCP, no timeout of its own: only a RST or FIN it receives tells it. */
  | 'plain'
  /**
   * As client-go by default: after READ_IDLE_MS without a byte it sends a
   * ping (HTTP/2 PING; here a few bytes, which is what reaches the other end)
   * and gives up PING_TIMEOUT_MS later if still nothing came.
   */
  | 'client-go'
  /** The operator's own kubectl (drill/kubectl-stream.ts): client-go itself, over HTTP/2 where the server offers it. */
  | 'kubectl';

export const CLIENT_GO_READ_IDLE_MS = 30_000;
export const CLIENT_GO_PING_TIMEOUT_MS = 15_000;

export type EndedHow = 'rst' | 'fin' | 'error' | 'timeout';

export interface StreamConnection {
  openedAt: number;
  /** Each event's arrival, on the drill's clock. */
  events: number[];
  /** The master that served it (the stand-in names itself). */
  master?: string;
  ended?: { t: number; how: EndedHow; detail?: string };
}

export interface StreamRecord {
  name: string;
  kind: StreamKind;
  connections: StreamConnection[];
}

export interface StreamTarget {
  host: string;
  port: number;
  path: string;
}

const CONNECT_TIMEOUT_MS = 1000;
export const RECONNECT_DELAY_MS = 50;

/** Resolves once the first event came, so a drill opens its fault on streams that flow. */
export interface StreamHandle {
  flowing: Promise<void>;
  stop(): Promise<StreamRecord>;
}

/** What an error on the connection says of how it ended. */
export function endedHow(error: NodeJS.ErrnoException): EndedHow {
  return error.code === 'ECONNRESET' ? 'rst' : 'error';
}

/** One connection of a stream, as it goes: events go into its record; `ended` resolves once it has ended, however. */
export interface Connection {
  ended: Promise<void>;
  /** The drill is over: end it now. */
  close(): void;
}

/** Opens one connection and records into `c`; `event` is called on each event's arrival. */
export type Connector = (c: StreamConnection, now: () => number, event: () => void) => Connection;

/** Keeps a stream open through `connect`, a new connection RECONNECT_DELAY_MS after each ends, until stopped. */
export function runStream(name: string, kind: StreamKind, t0: number, connect: Connector): StreamHandle {
  const record: StreamRecord = { name, kind, connections: [] };
  const now = () => performance.now() - t0;
  let running = true;
  let current: Connection | undefined;
  let firstEvent: () => void = () => undefined;
  const flowing = new Promise<void>((resolve) => (firstEvent = resolve));

  const loop = (async () => {
    while (running) {
      const c: StreamConnection = { openedAt: now(), events: [] };
      record.connections.push(c);
      current = connect(c, now, firstEvent);
      await current.ended;
      if (running) await new Promise((r) => setTimeout(r, RECONNECT_DELAY_MS));
    }
  })();

  return {
    flowing,
    async stop() {
      running = false;
      const last = record.connections[record.connections.length - 1];
      current?.close();
      await loop;
      // The drill ended it, not the network: the open connection did not end.
      if (last?.ended && last.ended.detail === CLOSED_BY_DRILL && last.ended.how === 'error') delete last.ended;
      return record;
    },
  };
}

/** What a connection the drill itself closed says of how it ended; the stop takes it back. */
export const CLOSED_BY_DRILL = 'closed';

/** A TLS client of the stand-in's /watch, as the drill's own `plain` and `client-go` kinds are. */
function tlsConnector(kind: StreamKind, target: StreamTarget, limits: { idleMs: number; pingTimeoutMs: number }): Connector {
  return (c, now, event) => {
    let done: () => void = () => undefined;
    const ended = new Promise<void>((r) => (done = r));
    let head: string | undefined = '';
    let idle: NodeJS.Timeout | undefined;
    const end = (how: EndedHow, detail?: string) => {
      if (!c.ended) c.ended = { t: now(), how, ...(detail ? { detail } : {}) };
      clearTimeout(idle);
      s.destroy();
      done();
    };
    // client-go's health check: silent for idleMs, then bytes out, then pingTimeoutMs for any answer.
    const arm = () => {
      if (kind !== 'client-go') return;
      clearTimeout(idle);
      idle = setTimeout(() => {
        s.write('\r\n');
        idle = setTimeout(() => end('timeout', `no answer ${limits.pingTimeoutMs / 1000} s after a ping`), limits.pingTimeoutMs);
      }, limits.idleMs);
    };
    const s: TLSSocket = connect({ host: target.host, port: target.port, rejectUnauthorized: false, timeout: CONNECT_TIMEOUT_MS });
    s.setEncoding('utf8');
    s.once('secureConnect', () => {
      s.setTimeout(0);
      s.write(`GET ${target.path} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: application/json\r\n\r\n`);
      arm();
    });
    s.once('timeout', () => end('error', 'connect timed out'));
    s.on('data', (chunk: string) => {
      arm();
      if (head !== undefined) {
        head += chunk;
        if (!head.includes('\r\n\r\n')) return;
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
        const master = /x-kha-lab-master: *(\S+)/i.exec(head)?.[1];
        if (master) c.master = master;
        head = undefined;
        if (status !== '200') return end('error', `HTTP ${status ?? '?'} on ${target.path}`);
      }
      countEvents(c, chunk, now());
      if (c.events.length > 0) event();
    });
    s.once('end', () => end('fin'));
    s.once('error', (e: NodeJS.ErrnoException) => end(endedHow(e), e.code ?? e.message));
    s.once('close', () => end('error', CLOSED_BY_DRILL));
    return { ended, close: () => s.destroy() };
  };
}

/** Each event the stand-in streams carries a "seq": a chunk may hold several, or part of one. */
export function countEvents(c: StreamConnection, chunk: string, t: number): void {
  for (let n = chunk.split('"seq"').length - 1; n > 0; n--) c.events.push(t);
}

/** Opens one stream of the drill's own clients and keeps it open, reconnecting, until stopped. */
export function openStream(name: string, kind: StreamKind, target: StreamTarget, t0: number, limits = { idleMs: CLIENT_GO_READ_IDLE_MS, pingTimeoutMs: CLIENT_GO_PING_TIMEOUT_MS }): StreamHandle {
  return runStream(name, kind, t0, tlsConnector(kind, target, limits));
}

/** What one stream lived through after the fault: when its events stopped, when it knew, when they came back. */
export interface StreamSummary {
  name: string;
  kind: StreamKind;
  /** The last event before the stream stalled. */
  stoppedAt?: number;
  /** When its connection was known dead, and how; absent while it still hung at the end. */
  learned?: { t: number; how: EndedHow };
  /** The first event after the stall. */
  resumedAt?: number;
  /** From the last event before the stall to the first after it (to the drill's end when none came). */
  stalledMs: number;
}

/** Events arrive every 100 ms: a gap under this is the stream flowing. */
const FLOWING_GAP_MS = 250;

/**
 * A connection that ended after the fault is the stall: from its last event
 * to the first on a later one. One that never ended may still have hung (a
 * plain client on a dead path hears nothing): its longest silence after the
 * fault is the stall.
 */
export function summarizeStream(r: StreamRecord, fault: number, end: number): StreamSummary {
  const base = { name: r.name, kind: r.kind };
  const broken = r.connections.findIndex((c) => c.ended !== undefined && c.ended.t >= fault);
  if (broken >= 0) {
    const c = r.connections[broken]!;
    const stoppedAt = c.events.at(-1) ?? c.openedAt;
    const resumedAt = r.connections.slice(broken + 1).find((n) => n.events.length > 0)?.events[0];
    return { ...base, stoppedAt, learned: { t: c.ended!.t, how: c.ended!.how }, ...(resumedAt !== undefined && { resumedAt }), stalledMs: (resumedAt ?? end) - stoppedAt };
  }
  const events = r.connections.flatMap((c) => c.events);
  let from = events.filter((t) => t < fault).at(-1) ?? fault;
  let worst: { from: number; to: number | undefined } = { from, to: undefined };
  let worstMs = 0;
  for (const t of [...events.filter((e) => e >= fault), end]) {
    if (t - from > worstMs) {
      worstMs = t - from;
      worst = { from, to: t === end ? undefined : t };
    }
    from = t;
  }
  if (worstMs <= FLOWING_GAP_MS) return { ...base, stalledMs: 0 };
  return { ...base, stoppedAt: worst.from, ...(worst.to !== undefined && { resumedAt: worst.to }), stalledMs: worstMs };
}
