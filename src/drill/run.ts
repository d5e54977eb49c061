import type { Inventory, LoadBalancer } from '../inventory/model.js';
import { readHaproxyStats } from '../observe/haproxy-stats.js';
import { probeHealthz } from '../probe/https.js';
import { vipHolders } from '../observe/vip.js';
import type { Session } from '../transport/session.js';
import type { Drill, DrillContext, DrillName } from './drills.js';
import { summarize, type Mark } from './timeline.js';
import type { DrillResult } from './types.js';
import { startClient, startVipWatch } from './watch.js';

// One drill, start to finish: measure a baseline, break, hold, restore
// (always, also on error or Ctrl-C), measure the recovery, and wait until
// the cluster is whole again before the next drill.

export interface DrillEnv {
  inv: Inventory;
  sessions: ReadonlyMap<string, Session>;
  partitionSeconds: number;
  limits: Record<DrillName, number>;
  /** The interface carrying the VIP on each load balancer (hosts.yaml's or discovered). */
  interfaces: ReadonlyMap<string, string>;
  /** Resolves when the operator asks to stop (Ctrl-C): holds are cut short. */
  aborted: Promise<void>;
  progress(text: string): void;
}

const BASELINE_MS = 1000;
const RECOVERY_MS = 2000;
const HEALTHY_TIMEOUT_MS = 45_000;

function sleep(ms: number, abort?: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    void abort?.then(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Every keepalived and haproxy running, exactly one holder, every apiserver up: the state each drill starts from. */
export async function waitHealthy(env: DrillEnv): Promise<LoadBalancer> {
  const until = Date.now() + HEALTHY_TIMEOUT_MS;
  let why = '';
  while (Date.now() < until) {
    const services = await Promise.all(
      env.inv.lbs.map(async (lb) => {
        const r = await env.sessions.get(lb.name)!.exec('systemctl is-active --quiet keepalived && systemctl is-active --quiet haproxy', { timeoutMs: 5000 }).catch(() => ({ code: 1 }));
        return r.code === 0 ? undefined : lb.name;
      }),
    );
    const down = services.filter(Boolean);
    const holders = await vipHolders(env.inv, env.sessions);
    const holder = holders.length === 1 ? holders[0]! : undefined;
    const backends = holder ? await readHaproxyStats(env.sessions.get(holder.name)!, env.inv.haproxy.monitor_port).catch(() => []) : [];
    const notUp = backends.filter((b) => b.backend === 'kube_apiserver' && !b.status.startsWith('UP')).map((b) => b.server);
    // Clients must get through too: a stale ARP cache from the last drill would
    // otherwise be blamed on the next one.
    const client = down.length === 0 && holder && notUp.length === 0 ? await clientPathWorks(env.inv) : false;
    if (client && holder && backends.length > 0) return holder;
    why = down.length
      ? `keepalived or haproxy not running on ${down.join(', ')}`
      : !holder
        ? `${holders.length} hosts hold the VIP`
        : notUp.length
          ? `haproxy on ${holder.name} has ${notUp.join(', ')} down`
          : backends.length === 0
            ? `cannot read haproxy statistics on ${holder.name}`
            : `requests through the VIP fail`;
    await sleep(250);
  }
  throw new Error(`the cluster did not become whole within ${HEALTHY_TIMEOUT_MS / 1000} s (${why}); run kha status`);
}

async function clientPathWorks(inv: Inventory): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    if (!(await probeHealthz(inv.vip.address, inv.port, 1000, '/healthz', 200)).ok) return false;
  }
  return true;
}

export async function runDrill(drill: Drill, env: DrillEnv, holder: LoadBalancer): Promise<DrillResult> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const marks: Mark[] = [];
  const ctx: DrillContext = {
    inv: env.inv,
    sessions: env.sessions,
    holder,
    master: env.inv.masters[env.inv.masters.length - 1]!,
    partitionSeconds: env.partitionSeconds,
    limits: env.limits,
    mark: (what, text) => marks.push({ t: performance.now() - t0, what, text }),
    extra: { interface: env.interfaces.get(holder.name) },
  };
  env.progress(`${drill.name}: ${drill.title(ctx)}`);
  const client = startClient(env.inv, t0);
  const watch = startVipWatch(env.inv, env.sessions, t0);
  let failure: unknown;
  try {
    await sleep(BASELINE_MS);
    try {
      await drill.inject(ctx);
      await sleep(drill.holdMs(ctx), env.aborted);
    } finally {
      await drill.restore(ctx).catch((e: unknown) => {
        failure ??= e;
      });
    }
    await sleep(RECOVERY_MS, env.aborted);
  } catch (e) {
    failure ??= e;
  }
  const [samples, vip] = await Promise.all([client.stop(), watch.stop()]);
  const durationMs = performance.now() - t0;
  const timeline = { samples, vip, marks };
  const summary = summarize(timeline, durationMs);
  const expectations = drill.expectations(ctx, summary);
  if (failure !== undefined) {
    expectations.push({ name: 'the drill ran', held: false, detail: failure instanceof Error ? failure.message : String(failure) });
  }
  return {
    name: drill.name,
    title: drill.title(ctx),
    target: holder.name,
    startedAt,
    durationMs,
    timeline,
    summary,
    expectations,
    passed: expectations.every((e) => e.held),
    lbs: env.inv.lbs.map((lb) => lb.name),
  };
}
