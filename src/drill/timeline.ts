// What happened during a drill, in milliseconds since it started, and the
// figures drawn from it. Pure: recorded timelines in, numbers out.

import { summarizeStream, type StreamRecord } from './streams.js';

export interface Sample {
  /** When the request started. */
  t: number;
  /** How long it took to answer or fail. */
  ms: number;
  ok: boolean;
  error?: string;
  master?: string;
}

export interface VipObservation {
  t: number;
  /** The host whose answer this is; the others are as last seen. */
  host: string;
  /** Load balancers holding the VIP at that moment. */
  holders: string[];
}

export interface Mark {
  t: number;
  what: 'fault' | 'restore' | 'note';
  text: string;
}

export interface Timeline {
  /** The 50 ms probe: a new connection each time, connect timeout 200 ms. */
  samples: Sample[];
  /** A client with default TCP settings (watch.ts startDefaultClient). */
  defaultClient: Sample[];
  vip: VipObservation[];
  marks: Mark[];
  /** keepalived's own state changes, from each load balancer's journal. */
  states: StateChange[];
  /** The 50 ms probe run on a host inside the cluster (--probe-from). */
  remote?: RemoteTimeline;
  /** Long-lived watch-like connections through the VIP, opened before the fault (streams.ts). */
  streams: StreamRecord[];
  /** Why there are none. */
  streamsUnavailable?: string;
  /** Why the operator's kubectl is not among them (operator-streams.ts): no real watch could be held, or it had no event; absent when it is, or when there is no kubectl. */
  kubectlLeftOut?: string;
  /** Why the streams of --probe-from's host are not among them. */
  remoteStreamsUnavailable?: string;
  /** The 50 ms probe run on a node through its local proxy (drills from a node). */
  node?: NodeTimeline;
}

export interface StateChange {
  t: number;
  host: string;
  state: 'MASTER' | 'BACKUP' | 'FAULT';
}

export interface RemoteTimeline {
  host: string;
  samples: Sample[];
  clockUncertaintyMs: number;
  error?: string;
}

export interface NodeTimeline extends RemoteTimeline {
  /** What the probe asked, on the node: https://127.0.0.1:<node_proxy.port><haproxy.health_path>. */
  url: string;
}

export interface Outage {
  /** Start of the first failed request. */
  from: number;
  /** Start of the first request that succeeded after it. */
  to: number;
  failed: number;
}

/** Runs of failed requests, each closed by the next success (or the end of the drill). */
export function outages(samples: readonly Sample[], end: number): Outage[] {
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  const runs: Outage[] = [];
  let open: Outage | undefined;
  for (const s of sorted) {
    if (!s.ok) {
      if (open) open.failed++;
      else open = { from: s.t, to: end, failed: 1 };
    } else if (open && s.t > open.from) {
      open.to = s.t;
      runs.push(open);
      open = undefined;
    }
  }
  if (open) runs.push(open);
  return runs;
}

export function longestOutage(samples: readonly Sample[], end: number): Outage | undefined {
  return outages(samples, end).reduce<Outage | undefined>((best, o) => (!best || o.to - o.from > best.to - best.from ? o : best), undefined);
}

export interface Takeover {
  /** Who held the VIP just before the fault. */
  from: string | undefined;
  to: string;
  /** First moment another host was seen holding it. */
  takenAt: number;
  /** First moment the old holder was seen without it; never, after kill -9 without a restart. */
  lostAt?: number;
}

/** After the fault at `after`: the first other host seen holding the VIP, and when the old one let go. */
export function vipTakeover(vip: readonly VipObservation[], after: number): Takeover | undefined {
  const before = [...vip].reverse().find((o) => o.t <= after && o.holders.length > 0);
  const from = before?.holders[0];
  const taken = vip.find((o) => o.t > after && o.holders.some((h) => h !== from));
  if (!taken) return undefined;
  const lost = from === undefined ? undefined : vip.find((o) => o.t > after && !o.holders.includes(from));
  const result: Takeover = { from, to: taken.holders.find((h) => h !== from)!, takenAt: taken.t };
  if (lost) result.lostAt = lost.t;
  return result;
}

/** Each host's stretches of certain holding: from a sample that saw it hold the VIP to the last such sample before one that did not. */
function heldSpans(vip: readonly VipObservation[]): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  const open = new Map<string, [number, number]>();
  for (const o of vip) {
    const span = open.get(o.host);
    if (o.holders.includes(o.host)) {
      if (span) span[1] = o.t;
      else open.set(o.host, [o.t, o.t]);
    } else if (span) {
      spans.push(span);
      open.delete(o.host);
    }
  }
  return [...spans, ...open.values()];
}

/**
 * When two or more hosts held the VIP at once (split brain). Each host is
 * polled on its own, so an observation carries the others' last known
 * state: between a host's last "holds" and its first "does not" nobody knows
 * when it let go. Only time that both hosts' own samples bracket counts, so a
 * handover whose answers merely crossed is not a split brain, and one that
 * lasts (kill -9, a partition) is.
 */
export function splitBrain(vip: readonly VipObservation[]): Array<{ from: number; to: number }> {
  const edges = heldSpans(vip)
    .flatMap(([from, to]): Array<[number, number]> => [[from, 1], [to, -1]])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: Array<{ from: number; to: number }> = [];
  let holding = 0;
  let since = 0;
  for (const [t, step] of edges) {
    if (holding >= 2 && t > since) {
      const last = out[out.length - 1];
      if (last && last.to === since) last.to = t;
      else out.push({ from: since, to: t });
    }
    holding += step;
    since = t;
  }
  return out;
}

/** Total time of split brain (splitBrain). */
export function dualHolding(vip: readonly VipObservation[]): number {
  return splitBrain(vip).reduce((sum, i) => sum + i.to - i.from, 0);
}

/** When each failed request gave up, on the timeline: what a drill compares with the moments it knows. */
function failedEnds(samples: Sample[]): number[] {
  return samples.filter((s) => !s.ok).map((s) => s.t + s.ms);
}

/**
 * Figures of a drill. Outages count from the fault on: what happens before it
 * (the baseline, or a drill's own preparation) is not the fault's doing.
 */
export function summarize(t: Timeline, end: number) {
  const fault = t.marks.find((m) => m.what === 'fault')?.t ?? 0;
  const measured = t.samples.filter((s) => s.t >= fault);
  const worst = longestOutage(measured, end);
  const takeover = vipTakeover(t.vip, fault);
  // Requests still waiting when the fault came count: theirs is the wait a user feels.
  const slow = t.defaultClient.filter((s) => s.t + s.ms >= fault);
  return {
    sent: measured.length,
    failed: measured.filter((s) => !s.ok).length,
    failedEndsMs: failedEnds(measured),
    longestOutageMs: worst ? worst.to - worst.from : 0,
    outage: worst,
    takeover,
    /** From the fault to another host holding the VIP. */
    vipMovedMs: takeover ? takeover.takenAt - fault : undefined,
    dualHoldingMs: dualHolding(t.vip),
    finalHolders: t.vip[t.vip.length - 1]?.holders ?? [],
    masters: [...new Set(measured.filter((s) => s.ok && s.master).map((s) => s.master!))].sort(),
    defaultClient: {
      sent: slow.length,
      failed: slow.filter((s) => !s.ok).length,
      slowestMs: slow.reduce((m, s) => Math.max(m, s.ms), 0),
    },
    remote: t.remote && remoteSummary(t.remote, fault, end),
    streams: t.streams.map((r) => summarizeStream(r, fault, end)),
    node: t.node && { ...remoteSummary(t.node, fault, end), url: t.node.url },
  };
}

function remoteSummary(r: RemoteTimeline, fault: number, end: number) {
  const measured = r.samples.filter((s) => s.t >= fault);
  const worst = longestOutage(measured, end);
  return {
    host: r.host,
    sent: measured.length,
    failed: measured.filter((s) => !s.ok).length,
    failedEndsMs: failedEnds(measured),
    longestOutageMs: worst ? worst.to - worst.from : 0,
    outage: worst,
    /** The longest a request took, answered or not: what a client waited at worst. */
    slowestMs: measured.reduce((m, s) => Math.max(m, s.ms), 0),
    ...(r.error !== undefined && { error: r.error }),
  };
}
