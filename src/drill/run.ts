import { vipOf, type Inventory, type LoadBalancer, type Vip } from '../inventory/model.js';
import { readHaproxyStats } from '../observe/haproxy-stats.js';
import { probeHealthz } from '../probe/https.js';
import { vipHolders } from '../observe/vip.js';
import type { Session } from '../transport/session.js';
import type { Drill, DrillContext, DrillName } from './drills.js';
import { exercise, sleep } from './exercise.js';
import { proxyTarget, startRemoteClient, targetUrl, vipTarget, type RemoteProbe } from './remote-probe.js';
import type { Clock } from '../observe/clock.js';
import { topologyOf } from '../topology/of.js';
import type { ProxyHost } from '../topology/roles.js';
import { parseVrrpTransitions, vrrpTransitionsCommand } from '../observe/keepalived-state.js';
import { summarize, type Mark, type Sample, type StateChange, type Timeline, type VipObservation } from './timeline.js';
import type { DrillResult, Expectation } from './types.js';
import { openStreams, watchTarget, type RealWatch } from './operator-streams.js';
import type { StreamRecord } from './streams.js';
import { startRemoteStreams, whyNotFlowing, type RemoteStreams } from './remote-streams.js';
import { startClient, startDefaultClient, startVipWatch } from './watch.js';

// One drill, start to finish: measure a baseline, break, hold, restore
// (exercise.ts: always, also on error or a signal), measure the recovery,
// and wait until the cluster is whole again before the next drill.

export interface DrillEnv {
  inv: Inventory;
  sessions: ReadonlyMap<string, Session>;
  partitionSeconds: number;
  limits: Record<DrillName, number>;
  /** The interface carrying the VIP on each load balancer (hosts.yaml's or discovered). */
  interfaces: ReadonlyMap<string, string>;
  /** Aborted when the operator asks to stop (a signal): holds are cut short, nothing new is broken. */
  stop: AbortSignal;
  progress(text: string): void;
  /** A host left broken: said at once, where it cannot be missed. */
  alarm(text: string): void;
  /** --probe-from: the host that runs a second probe, over this session. */
  probeFrom?: Session;
  /** The host the drills from a node measure through, when one of them runs; its session is in `sessions`. */
  node?: ProxyHost;
  /** Opens a new session to a load balancer that went away (reboot) and puts it in `sessions`. */
  reconnect(host: string, timeoutMs: number): Promise<void>;
  /** The clock of every host kha is connected to, measured once per run: their journals and probes land on the drill's timeline. */
  clocks: ReadonlyMap<string, Clock>;
  /** verify-failover --kubeconfig: the real watch the operator's kubectl holds, or why it cannot. */
  realWatch?: RealWatch;
}

const BASELINE_MS = 1000;
const RECOVERY_MS = 2000;
const HEALTHY_TIMEOUT_MS = 45_000;
/** The remote loop's own end, should kha never tell it to stop: the drill's length plus this. */
const REMOTE_SLACK_MS = 300_000;

function remoteWithin(r: NonNullable<ReturnType<typeof summarize>['remote']>, limitMs: number): Expectation {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  if (r.error !== undefined) return { name: `probe from ${r.host} reported`, held: false, detail: r.error };
  return {
    name: `client outage from ${r.host} ≤ ${s(limitMs)}`,
    held: r.longestOutageMs <= limitMs,
    detail: `longest ${s(r.longestOutageMs)}; ${r.failed} of ${r.sent} requests failed`,
  };
}

/** The cluster whole again: who holds the VIP, absent when there is none (the drills from a node need no holder). */
export interface Whole {
  holder?: LoadBalancer;
}

/**
 * Every keepalived and haproxy running, exactly one holder, every apiserver
 * up (without a VIP: up in the drill node's proxy): the state each drill
 * starts from. Undefined once kha is asked to stop.
 */
export async function waitHealthy(env: DrillEnv): Promise<Whole | undefined> {
  const until = Date.now() + HEALTHY_TIMEOUT_MS;
  let why = '';
  while (Date.now() < until) {
    if (env.stop.aborted) return undefined;
    if (!env.inv.vip) {
      const nodeNotUp = await nodeProxyNotUp(env);
      if (nodeNotUp === undefined) return {};
      why = nodeNotUp;
      await sleep(250, env.stop);
      continue;
    }
    const topology = topologyOf(env.inv);
    const services = await Promise.all(
      env.inv.lbs.map(async (lb) => {
        const states = await topology.serviceStates(env.sessions.get(lb.name)!, env.inv).catch(() => ({ unknown: 'unreachable' }));
        return Object.values(states).every((s) => s === 'active') ? undefined : lb.name;
      }),
    );
    const down = services.filter(Boolean);
    const holders = await vipHolders(env.inv, env.sessions);
    const holder = holders.length === 1 ? holders[0]! : undefined;
    const backends = holder ? await readHaproxyStats(env.sessions.get(holder.name)!, env.inv.haproxy.monitor_port).catch(() => []) : [];
    const notUp = backends.filter((b) => b.backend === 'kube_apiserver' && !b.status.startsWith('UP')).map((b) => b.server);
    const nodeNotUp = await nodeProxyNotUp(env);
    // Clients must get through too: a stale ARP cache from the last drill would
    // otherwise be blamed on the next one.
    const client = down.length === 0 && holder && notUp.length === 0 && nodeNotUp === undefined ? await clientPathWorks(env.inv) : false;
    if (client && holder && backends.length > 0) return { holder };
    why = down.length
      ? `keepalived or haproxy not running on ${down.join(', ')}`
      : !holder
        ? `${holders.length} hosts hold the VIP`
        : notUp.length
          ? `haproxy on ${holder.name} has ${notUp.join(', ')} down`
          : backends.length === 0
            ? `cannot read haproxy statistics on ${holder.name}`
            : nodeNotUp !== undefined
              ? nodeNotUp
              : `requests through the VIP fail`;
    await sleep(250, env.stop);
  }
  throw new Error(`the cluster did not become whole within ${HEALTHY_TIMEOUT_MS / 1000} s (${why}); run kha status`);
}

/**
 * Why the node's local proxy is not whole yet, or undefined when it is (or
 * no drill from a node runs): every apiserver back UP in its haproxy, so a
 * master a drill took away is not still out of rotation when the next one
 * starts. nginx keeps no state to wait for.
 */
async function nodeProxyNotUp(env: DrillEnv): Promise<string | undefined> {
  const np = env.inv.nodeProxy;
  const session = env.node && env.sessions.get(env.node.name);
  if (!np || np.software !== 'haproxy' || !session) return undefined;
  const stats = await readHaproxyStats(session, np.healthPort).catch(() => undefined);
  if (!stats) return `cannot read the local proxy's statistics on ${session.host}`;
  const notUp = stats.filter((b) => b.backend === 'kube_apiserver' && !b.status.startsWith('UP')).map((b) => b.server);
  return notUp.length > 0 ? `the local proxy on ${session.host} has ${notUp.join(', ')} down` : undefined;
}

async function clientPathWorks(inv: Inventory): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    if (!(await probeHealthz(vipOf(inv).address, inv.port, 1000, '/healthz', 200)).ok) return false;
  }
  return true;
}

/** A host's clock reading (ms since the epoch) on the drill's timeline (ms from t0); undefined without that host's clock. */
function hostOnTimeline(env: DrillEnv, t0: number, host: string, epochMs: number): number | undefined {
  const clock = env.clocks.get(host);
  return clock && epochMs - clock.offsetMs - (performance.timeOrigin + t0);
}

/** keepalived's state changes during the drill on every load balancer that answers, on the drill's clock (its own, where kha has not read it). */
async function stateChanges(env: DrillEnv, t0: number, durationMs: number): Promise<StateChange[]> {
  const t0Epoch = performance.timeOrigin + t0;
  const perHost = await Promise.all(
    env.inv.lbs.map(async (lb) => {
      const r = await env.sessions.get(lb.name)?.exec(vrrpTransitionsCommand(t0Epoch - 1000), { timeoutMs: 10_000 }).catch(() => undefined);
      return parseVrrpTransitions(r?.stdout ?? '')
        .map((x) => ({ t: hostOnTimeline(env, t0, lb.name, x.epochMs) ?? x.epochMs - t0Epoch, host: lb.name, state: x.state }))
        .filter((x) => x.t >= 0 && x.t <= durationMs);
    }),
  );
  return perHost.flat().sort((a, b) => a.t - b.t);
}

/** The 50 ms loop on the drill's node, asking its local proxy; undefined when the node has no session or clock (the drill then says its probe never started). */
function startNodeProbe(env: DrillEnv, t0: number, maxMs: number): { probe: RemoteProbe; url: string } | undefined {
  const target = proxyTarget(env.inv);
  const session = env.node && env.sessions.get(env.node.name);
  const clock = session && env.clocks.get(session.host);
  if (!target || !session || !clock) return undefined;
  return { probe: startRemoteClient(target, session, clock, t0, maxMs), url: targetUrl(target) };
}

/** What a drill saw of the VIP: its clients and holders from here, and what --probe-from's host saw. */
interface VipSeen {
  samples: Sample[];
  slow: Sample[];
  vip: VipObservation[];
  streamRecords: StreamRecord[];
  streamsUnavailable?: string;
  kubectlLeftOut?: string;
  remote?: RemoteProbe;
  remoteSamples?: Sample[];
  remoteStreams?: RemoteStreams;
  fromHost?: { records: StreamRecord[]; error?: string };
}

/** Starts everything that watches the VIP through a drill; the streams are flowing when it returns, before the baseline, so the fault finds them established. */
async function watchVip(env: DrillEnv, vip: Vip, t0: number, remoteMs: number): Promise<{ stop(): Promise<VipSeen> }> {
  const probeClock = env.probeFrom && env.clocks.get(env.probeFrom.host);
  const remote = env.probeFrom && probeClock ? startRemoteClient(vipTarget(env.inv), env.probeFrom, probeClock, t0, remoteMs) : undefined;
  const watched = watchTarget(vip.address, env.inv.port);
  const remoteStreams = env.probeFrom && probeClock ? startRemoteStreams(watched, env.probeFrom, probeClock, t0, remoteMs) : undefined;
  const streams = await openStreams(watched, t0, undefined, env.realWatch);
  const client = startClient(env.inv, t0);
  const defaultClient = startDefaultClient(env.inv, t0);
  const watch = startVipWatch(env.inv, env.sessions, t0);
  return {
    async stop() {
      const [samples, slow, seen, remoteSamples, streamRecords, fromHost] = await Promise.all([
        client.stop(),
        defaultClient.stop(),
        watch.stop(),
        remote?.stop(),
        streams.stop(),
        remoteStreams?.stop(),
      ]);
      return { samples, slow, vip: seen, streamRecords, streamsUnavailable: streams.unavailable, kubectlLeftOut: streams.kubectlLeftOut, remote, remoteSamples, remoteStreams, fromHost };
    },
  };
}

/** `holder`: absent without a VIP, where only drills from a node run and nothing watches a VIP. */
export async function runDrill(drill: Drill, env: DrillEnv, holder: LoadBalancer | undefined): Promise<DrillResult> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const marks: Mark[] = [];
  const ctx: DrillContext = {
    inv: env.inv,
    sessions: env.sessions,
    ...(holder ? { holder } : {}),
    master: env.inv.masters[env.inv.masters.length - 1]!,
    ...(env.node ? { node: env.node } : {}),
    partitionSeconds: env.partitionSeconds,
    limits: env.limits,
    mark: (what, text, t = performance.now() - t0) => marks.push({ t, what, text }),
    now: () => performance.now() - t0,
    onTimeline: (host, epochMs) => hostOnTimeline(env, t0, host, epochMs),
    progress: env.progress,
    extra: { interface: holder && env.interfaces.get(holder.name) },
    reconnect: env.reconnect,
    serviceStates: async (host) => {
      const session = env.sessions.get(host);
      if (!session) throw new Error(`${host}: no SSH session`);
      return topologyOf(env.inv).serviceStates(session, env.inv);
    },
  };
  env.progress(`${drill.name}: ${drill.title(ctx)}`);
  const caveat = drill.caveat?.(ctx);
  if (caveat) env.progress(`  cannot show: ${caveat}`);
  const remoteMs = BASELINE_MS + drill.holdMs(ctx) + RECOVERY_MS + REMOTE_SLACK_MS;
  const nodeProbe = drill.from === 'node' ? startNodeProbe(env, t0, remoteMs) : undefined;
  // Without a VIP there is nothing else to watch: the node's probe is the drill's measure.
  const vipSide = env.inv.vip ? await watchVip(env, env.inv.vip, t0, remoteMs) : undefined;
  await sleep(BASELINE_MS, env.stop);
  const { restored, notRestored, failure } = await exercise(drill, ctx, env);
  await sleep(RECOVERY_MS, env.stop);
  const [seen, nodeSamples] = await Promise.all([vipSide?.stop(), nodeProbe?.probe.stop()]);
  const { samples = [], slow = [], vip = [], remote, remoteSamples, streamRecords = [], remoteStreams, fromHost, streamsUnavailable, kubectlLeftOut } = seen ?? {};
  const durationMs = performance.now() - t0;
  const states = await stateChanges(env, t0, durationMs);
  // A host's streams count only if they flowed before the fault, as the operator's must.
  const notFlowing = fromHost && whyNotFlowing(fromHost, marks.find((m) => m.what === 'fault')?.t);
  const timeline: Timeline = {
    samples,
    defaultClient: slow,
    vip,
    marks,
    states,
    streams: [...streamRecords, ...(fromHost && notFlowing === undefined ? fromHost.records : [])],
    ...(streamsUnavailable !== undefined && { streamsUnavailable }),
    ...(kubectlLeftOut !== undefined && { kubectlLeftOut }),
    ...(remoteStreams && notFlowing !== undefined && { remoteStreamsUnavailable: `from ${remoteStreams.host}: ${notFlowing}` }),
  };
  if (remote && remoteSamples) {
    timeline.remote = { host: remote.host, samples: remoteSamples, clockUncertaintyMs: remote.clockUncertaintyMs };
    if (remote.error !== undefined) timeline.remote.error = remote.error;
  }
  if (nodeProbe && nodeSamples) {
    timeline.node = { host: nodeProbe.probe.host, url: nodeProbe.url, samples: nodeSamples, clockUncertaintyMs: nodeProbe.probe.clockUncertaintyMs };
    if (nodeProbe.probe.error !== undefined) timeline.node.error = nodeProbe.probe.error;
  }
  const summary = summarize(timeline, durationMs);
  const expectations = [...drill.expectations(ctx, summary), ...restored];
  if (summary.remote) expectations.push(remoteWithin(summary.remote, env.limits[drill.name]));
  if (failure !== undefined) {
    expectations.push({ name: 'the drill ran', held: false, detail: failure instanceof Error ? failure.message : String(failure) });
  }
  return {
    name: drill.name,
    title: drill.title(ctx),
    ...(caveat ? { caveat } : {}),
    target: holder?.name ?? env.node?.name ?? '-',
    startedAt,
    durationMs,
    timeline,
    summary,
    expectations,
    passed: expectations.every((e) => e.held),
    lbs: env.inv.lbs.map((lb) => lb.name),
    notRestored,
  };
}
