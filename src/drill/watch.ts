import { type Inventory, vipOf } from '../inventory/model.js';
import { probeHealthz, type ProbeResult } from '../probe/https.js';
import { vipPresentCommand } from '../observe/vip.js';
import type { Session } from '../transport/session.js';
import type { Sample, VipObservation } from './timeline.js';

// The two instruments of a drill, both on the operator's clock: a client that
// opens a new TLS connection to the VIP every 50 ms, and a watcher polling
// each load balancer for the VIP over the already open SSH sessions.

export interface Recorder<T> {
  stop(): Promise<T[]>;
}

export const PROBE_INTERVAL_MS = 50;
export const PROBE_CONNECT_TIMEOUT_MS = 200;
export const PROBE_TIMEOUT_MS = 1000;

export function startClient(inv: Inventory, t0: number): Recorder<Sample> {
  return startLoop(PROBE_INTERVAL_MS, () => probeHealthz(vipOf(inv).address, inv.port, PROBE_TIMEOUT_MS, '/healthz', PROBE_CONNECT_TIMEOUT_MS), t0);
}

/** A new request every `intervalMs`, whether or not the last one has answered. */
function startLoop(intervalMs: number, probe: () => Promise<ProbeResult>, t0: number): Recorder<Sample> {
  const samples: Sample[] = [];
  const inflight = new Set<Promise<void>>();
  const tick = () => {
    const t = performance.now() - t0;
    const p = probe().then((r) => {
      const s: Sample = { t, ms: r.ms, ok: r.ok };
      if (r.error) s.error = r.error;
      else if (!r.ok) s.error = `HTTP ${r.status}`;
      if (r.master) s.master = r.master;
      samples.push(s);
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inflight);
      return samples.sort((a, b) => a.t - b.t);
    },
  };
}

/**
 * A client as kubelet or kubectl would be out of the box: no connect timeout
 * of its own, so a SYN lost to a VIP in motion is retried by the kernel after
 * about 1, 3 and 7 s. It is slow to notice a failover, and what it sees is
 * what most clients see: reported apart from the 50 ms probe's gap.
 */
const DEFAULT_CLIENT_INTERVAL_MS = 500;
const DEFAULT_CLIENT_TIMEOUT_MS = 15_000;

export function startDefaultClient(inv: Inventory, t0: number): Recorder<Sample> {
  return startLoop(DEFAULT_CLIENT_INTERVAL_MS, () => probeHealthz(vipOf(inv).address, inv.port, DEFAULT_CLIENT_TIMEOUT_MS), t0);
}

const POLL_MS = 50;
const POLL_TIMEOUT_MS = 700;

/**
 * Polls every load balancer in its own loop; each answer updates that host's
 * state and records who holds the VIP now. A host that does not answer (cut
 * off, rebooting) keeps its last known state, marked in the observation.
 */
export function startVipWatch(inv: Inventory, sessions: ReadonlyMap<string, Session>, t0: number): Recorder<VipObservation> {
  const state = new Map<string, boolean>();
  const observations: VipObservation[] = [];
  let running = true;
  const record = (host: string) => {
    const holders = inv.lbs.filter((lb) => state.get(lb.name)).map((lb) => lb.name);
    observations.push({ t: performance.now() - t0, host, holders });
  };
  const loops = inv.lbs.map(async (lb) => {
    while (running) {
      const started = performance.now();
      // Looked up each time: a drill that reboots a host replaces its session.
      const session = sessions.get(lb.name);
      try {
        if (!session) throw new Error('no session');
        const r = await session.exec(vipPresentCommand(inv), { timeoutMs: POLL_TIMEOUT_MS });
        state.set(lb.name, r.code === 0);
        record(lb.name);
      } catch {
        // Unreachable for now: its last known state stands.
      }
      const spent = performance.now() - started;
      if (spent < POLL_MS) await new Promise((r) => setTimeout(r, POLL_MS - spent));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return observations;
    },
  };
}
