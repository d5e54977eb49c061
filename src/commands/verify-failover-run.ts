import { constants } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { outputFor, type CliContext } from '../cli.js';
import { InputError, PreflightError } from '../errors.js';
import { applicableDrills, type NotApplicable } from '../drill/applicable.js';
import { DESTRUCTIVE, defaultLimits, nodeDrillMaster, type Drill } from '../drill/drills.js';
import { sweep } from '../drill/exercise.js';
import { checkProbeHost } from '../drill/remote-probe.js';
import { renderReport } from '../drill/report-html.js';
import { runDrill, waitHealthy, type DrillEnv } from '../drill/run.js';
import { findKubectl } from '../drill/kubectl-stream.js';
import type { RealWatch } from '../drill/operator-streams.js';
import type { EndedHow } from '../drill/streams.js';
import { startWatchWriter, type WatchWriter } from '../drill/watch-writer.js';
import type { DrillResult } from '../drill/types.js';
import { closeAll, gatherAll, openSessions } from '../execute/apply.js';
import type { Inventory, SshSettings } from '../inventory/model.js';
import { sshTarget } from '../execute/targets.js';
import { connectAll } from '../transport/ssh.js';
import type { Session } from '../transport/session.js';
import { interfaceFor } from '../facts/derived.js';
import { clockOffset } from '../observe/clock.js';
import { topologyOf } from '../topology/of.js';
import { proxyHosts, type ProxyHost } from '../topology/roles.js';
import type { Topology, TopologyName } from '../topology/topology.js';
import { VERSION } from '../version.js';
import { INTERRUPT_EXIT, onInterrupt, type InterruptSignal } from './signals.js';

export interface VerifyFlags {
  drill?: string[];
  report?: string;
  partitionSeconds?: string;
  probeFrom?: string;
  destructive?: boolean;
  json?: boolean;
  kubeconfig?: string;
}

/** --kubeconfig: the file readable and a kubectl to use it, checked before any host is touched. */
async function realWatchInput(file: string, env: NodeJS.ProcessEnv): Promise<{ kubectl: string; kubeconfig: string }> {
  try {
    await access(file, constants.R_OK);
  } catch (e) {
    throw new InputError(`--kubeconfig ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const kubectl = findKubectl(env);
  if (!kubectl) throw new InputError(`--kubeconfig ${file}: kha holds the real watch with kubectl, and there is none on PATH (or set KHA_KUBECTL)`);
  return { kubectl, kubeconfig: file };
}

/** A session to any host of the inventory, with the error named as preflight names it. */
async function connectOne(host: { name: string; address: string; ssh: SshSettings }): Promise<Session> {
  const [r] = await connectAll([sshTarget(host)]);
  if (!r?.session) throw new PreflightError([{ host: host.name, check: 'ssh', message: r?.error?.message ?? 'no connection' }]);
  return r.session;
}

/** Retries until the host answers SSH again (it is rebooting), then replaces its session. */
async function reconnect(inv: Inventory, sessions: Map<string, Session>, name: string, timeoutMs: number): Promise<void> {
  const lb = inv.lbs.find((h) => h.name === name)!;
  await sessions.get(name)?.close().catch(() => undefined);
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const [r] = await connectAll([{ ...sshTarget(lb), connectTimeoutMs: 3000 }]);
    if (r?.session) {
      sessions.set(name, r.session);
      return;
    }
    last = r?.error?.message ?? '';
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new Error(`${name} did not answer SSH within ${timeoutMs / 1000} s after the reboot${last ? ` (${last})` : ''}`);
}

/** The drills asked for, among those that apply to this topology and inventory, in the order asked; one asked for that does not apply is refused with why. */
function selectDrills(flags: VerifyFlags, topology: Topology, inv: Inventory): Drill[] {
  const { drills, notApplicable } = applicableDrills(topology, inv);
  const names = [...drills.map((d) => d.name), ...notApplicable.map((n) => n.name)];
  if (flags.drill === undefined) return drills.filter((d) => flags.destructive || !DESTRUCTIVE.has(d.name));
  return flags.drill.map((n) => {
    const drill = drills.find((d) => d.name === n);
    const not = notApplicable.find((x) => x.name === n);
    if (not) throw new InputError(`--drill ${n} ${doesNotApply(not, topology, inv)}`);
    if (!drill) throw new InputError(`--drill ${n}: no such drill (${names.join(', ')})`);
    if (DESTRUCTIVE.has(drill.name) && !flags.destructive) throw new InputError(`--drill ${n} takes a whole host down: add --destructive to run it`);
    return drill;
  });
}

const TOPOLOGY_WORDS: Record<TopologyName, string> = {
  dedicated: 'keepalived and haproxy on load balancers of their own',
  'on-masters': 'keepalived and haproxy on the masters',
  'static-pods': 'keepalived and haproxy as static pods',
  'proxy-only': 'a cluster with no VIP',
};

function doesNotApply(n: NotApplicable, topology: Topology, inv: Inventory): string {
  return n.by === 'topology' ? `does not apply to ${TOPOLOGY_WORDS[topology.name]}: ${n.why}` : `does not apply to ${inv.file}: ${n.why}`;
}

/**
 * The host the drills from a node measure through: the one --probe-from
 * names when it runs the local proxy, else the first that does. Undefined
 * when none of those drills runs.
 */
function drillNode(inv: Inventory, drills: readonly Drill[], probeFrom: string | undefined): ProxyHost | undefined {
  if (!drills.some((d) => d.from === 'node')) return undefined;
  const hosts = proxyHosts(inv);
  return hosts.find((h) => h.name === probeFrom) ?? hosts[0];
}

/** Hosts besides the load balancers that the drills of this run break (and so arm, heal and sweep): the node, and the master whose port is refused. */
function drillHosts(inv: Inventory, drills: readonly Drill[], node: ProxyHost | undefined): { name: string; address: string; ssh: SshSettings }[] {
  if (!node) return [];
  const hosts: { name: string; address: string; ssh: SshSettings }[] = [node];
  if (drills.some((d) => d.name === 'node-apiserver-stop')) hosts.push(nodeDrillMaster({ inv, master: inv.masters[inv.masters.length - 1]!, node }));
  return hosts.filter((h) => !inv.lbs.some((lb) => lb.name === h.name));
}

/**
 * Stops a run the way Ctrl-C does, on any of the interrupt signals: the hold
 * is cut short, every host is healed, then kha exits (signals.ts).
 */
function onStopSignals(ctx: CliContext, stop: (signal: InterruptSignal) => void): () => void {
  let stopped = false;
  return onInterrupt((signal) => {
    // A terminal's Ctrl-C also arrives forwarded from the netns parent: one stop.
    if (stopped) return;
    stopped = true;
    ctx.streams.stderr(`\n${signal}: restoring, then stopping\n`);
    stop(signal);
  });
}

/** Runs the restores that an interrupted earlier run left armed on the hosts drills break, and reports those that failed. */
async function sweepEarlierRuns(hosts: readonly Session[], warn: (text: string) => void): Promise<void> {
  await Promise.all(
    hosts.map(async (session) => {
      const swept = await sweep(session);
      for (const unit of swept.ran) warn(`${session.host}: an interrupted run left a restore armed; it ran now (${unit})`);
      for (const unit of swept.failed) warn(`${session.host}: an earlier drill's own restore failed (${unit}; journalctl -u ${unit} on ${session.host})`);
    }),
  );
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`;
}

const LEARNED_BY: Record<EndedHow, string> = { rst: 'a RST', fin: 'a FIN', error: 'an error', timeout: 'its own timeout' };

/** A column of the summary table: its title and each drill's cell, defined together so the two cannot drift apart. */
interface Column {
  title: string;
  cell(r: DrillResult): string;
}

/** The summary table, its head first: a row per drill run, then one per drill that does not apply. Without a VIP, only the node's columns. */
export function drillTable(
  results: readonly DrillResult[],
  notApplicable: readonly { name: string }[],
  remoteHost?: string,
  nodeName?: string,
  withVip = true,
): string[][] {
  const vipColumns: Column[] = [
    { title: 'VIP moved in', cell: (r) => seconds(r.summary.vipMovedMs) },
    { title: 'longest outage', cell: (r) => seconds(r.summary.longestOutageMs) },
    { title: 'failed/sent', cell: (r) => `${r.summary.failed}/${r.summary.sent}` },
    { title: 'default client (slowest)', cell: (r) => seconds(r.summary.defaultClient.slowestMs) },
    {
      title: 'longest stream stall',
      cell: (r) => (r.timeline.streamsUnavailable !== undefined ? '-' : seconds(Math.max(0, ...r.summary.streams.map((x) => x.stalledMs)))),
    },
  ];
  const columns: Column[] = [
    { title: 'drill', cell: (r) => r.name },
    { title: 'outcome', cell: (r) => (r.passed ? 'pass' : 'FAIL') },
    ...(withVip ? vipColumns : []),
    ...(remoteHost
      ? [{ title: `outage from ${remoteHost}`, cell: (r: DrillResult) => (r.summary.remote?.error !== undefined ? 'no report' : seconds(r.summary.remote?.longestOutageMs)) }]
      : []),
    ...(nodeName
      ? [{ title: `outage through ${nodeName}'s proxy`, cell: (r: DrillResult) => (r.summary.node?.error !== undefined ? 'no report' : seconds(r.summary.node?.longestOutageMs)) }]
      : []),
  ];
  return [
    columns.map((c) => c.title),
    ...results.map((r) => columns.map((c) => c.cell(r))),
    ...notApplicable.map((n) => [n.name, 'n/a', ...columns.slice(2).map(() => '-')]),
  ];
}

/** What each long-lived stream lived through, in a line: a client that never learned its connection died is the failure users meet. */
function streamsLine(r: DrillResult): string {
  if (r.timeline.streamsUnavailable !== undefined) return `streams through the VIP: none (${r.timeline.streamsUnavailable})`;
  const missing = r.timeline.remoteStreamsUnavailable;
  const words = r.summary.streams.map((s) => {
    if (s.stalledMs === 0) return `${s.name} flowed throughout`;
    const knew = s.learned ? `knew by ${LEARNED_BY[s.learned.how]} ${seconds(s.learned.t - (s.stoppedAt ?? s.learned.t))} after its last event` : 'never knew its connection was dead';
    return `${s.name} stalled ${seconds(s.stalledMs)} (${knew}${s.resumedAt === undefined ? ', still stuck at the end' : ''})`;
  });
  const kubectl = r.timeline.kubectlLeftOut;
  return `streams through the VIP: ${[...words, ...(kubectl !== undefined ? [`no kubectl stream (${kubectl})`] : []), ...(missing !== undefined ? [`none ${missing}`] : [])].join('; ')}`;
}

/** What one drill showed, for people: the VIP's clients and streams where there is a VIP, the node's probe, the notes, what was not met. */
function drillLines(result: DrillResult, withVip: boolean): string[] {
  const s = result.summary;
  const fault = result.timeline.marks.find((m) => m.what === 'fault')?.t ?? 0;
  const outcome = result.passed ? 'pass' : 'FAIL';
  const lines: string[] = [];
  if (withVip) {
    lines.push(`  ${outcome}: VIP moved in ${seconds(s.vipMovedMs)}, longest outage ${seconds(s.longestOutageMs)}, ${s.failed}/${s.sent} failed${s.dualHoldingMs ? `, two holders for ${seconds(s.dualHoldingMs)}` : ''}`);
    const changes = result.timeline.states.map((c) => `${c.host} ${c.state} ${c.t >= fault ? '+' : ''}${((c.t - fault) / 1000).toFixed(2)} s`);
    if (changes.length > 0) lines.push(`  keepalived (from the fault): ${changes.join(', ')}`);
    lines.push(`  a client with default TCP settings: slowest request ${seconds(s.defaultClient.slowestMs)}, ${s.defaultClient.failed}/${s.defaultClient.sent} failed`);
    lines.push(`  ${streamsLine(result)}`);
  } else {
    lines.push(`  ${outcome}`);
  }
  if (s.node) {
    lines.push(
      s.node.error !== undefined
        ? `  through ${s.node.host}'s local proxy: no report (${s.node.error})`
        : `  through ${s.node.host}'s local proxy (${s.node.url}): longest outage ${seconds(s.node.longestOutageMs)}, ${s.node.failed}/${s.node.sent} failed, slowest ${seconds(s.node.slowestMs)}`,
    );
  }
  for (const m of result.timeline.marks.filter((x) => x.what === 'note')) lines.push(`  ${m.text}, ${seconds(m.t - fault)} after the fault`);
  if (s.remote) {
    lines.push(
      s.remote.error !== undefined
        ? `  from ${s.remote.host}: no report (${s.remote.error})`
        : `  from ${s.remote.host}: longest outage ${seconds(s.remote.longestOutageMs)}, ${s.remote.failed}/${s.remote.sent} failed`,
    );
  }
  for (const e of result.expectations.filter((x) => !x.held)) lines.push(`    not met: ${e.name}: ${e.detail}`);
  return lines;
}

/** The verify-failover command once kha runs where it can reach the hosts. */
export async function runVerifyFailover(inv: Inventory, file: string, flags: VerifyFlags, ctx: CliContext): Promise<void> {
  const out = outputFor(ctx, Boolean(flags.json));
  const topology = topologyOf(inv);
  const drills = selectDrills(flags, topology, inv);
  // Asked for by name, a drill that does not apply was refused above; in a whole run each is said once.
  const notApplicable = flags.drill === undefined ? applicableDrills(topology, inv).notApplicable : [];
  const everyHost = [...inv.lbs, ...inv.masters, ...inv.nodes];
  const probeHost = flags.probeFrom === undefined ? undefined : everyHost.find((h) => h.name === flags.probeFrom);
  if (flags.probeFrom !== undefined && !probeHost) {
    throw new InputError(`--probe-from ${flags.probeFrom}: no host of that name in ${file} (${everyHost.map((h) => h.name).join(', ')})`);
  }
  if (probeHost && !inv.vip && !proxyHosts(inv).some((h) => h.name === probeHost.name)) {
    throw new InputError(
      `--probe-from ${probeHost.name}: ${file} has no VIP to probe, so --probe-from names the host the drills measure through, and ${probeHost.name} has no local proxy (${proxyHosts(inv).map((h) => h.name).join(', ')} have)`,
    );
  }
  const node = drillNode(inv, drills, flags.probeFrom);
  const extraHosts = drillHosts(inv, drills, node);
  const partitionSeconds = flags.partitionSeconds === undefined ? inv.drills.partitionSeconds : Number(flags.partitionSeconds);
  if (!Number.isInteger(partitionSeconds) || partitionSeconds < 2 || partitionSeconds > 120) throw new InputError('--partition-seconds takes a whole number from 2 to 120');

  const realInput = flags.kubeconfig === undefined ? undefined : await realWatchInput(flags.kubeconfig, ctx.env);

  const sessions = await openSessions(inv);
  // The node and master the drills from a node break, and the probe host: joined to `sessions` once the load balancers' facts are read.
  const extra = new Map<string, Session>();
  let probeSession: Session | undefined;
  try {
    for (const h of [...extraHosts, ...(probeHost ? [probeHost] : [])]) {
      if (!sessions.has(h.name) && !extra.has(h.name)) extra.set(h.name, await connectOne(h));
    }
    probeSession = probeHost && (sessions.get(probeHost.name) ?? extra.get(probeHost.name));
    if (probeSession) await checkProbeHost(probeSession);
    if (node) await checkProbeHost(extra.get(node.name) ?? sessions.get(node.name)!);
  } catch (e) {
    await closeAll(sessions);
    await closeAll(extra);
    throw e;
  }
  // A load balancer's session is replaced when it reboots; look it up each time.
  const probeFrom = () => (probeHost && sessions.get(probeHost.name)) ?? probeSession;
  const stopping = new AbortController();
  let signal: InterruptSignal | undefined;
  const removeHandlers = onStopSignals(ctx, (s) => {
    signal = s;
    stopping.abort();
  });
  const results: DrillResult[] = [];
  const notRestored: string[] = [];
  let writer: WatchWriter | undefined;
  try {
    const broken = [...sessions.values(), ...extraHosts.map((h) => extra.get(h.name)!)];
    await sweepEarlierRuns(broken, (t) => out.warn(t));
    const facts = await gatherAll(inv, sessions);
    const interfaces = new Map(inv.lbs.map((lb) => [lb.name, interfaceFor(lb, facts.get(lb.name)!) ?? 'eth0']));
    for (const [name, session] of extra) sessions.set(name, session);
    const clocks = new Map(await Promise.all([...sessions.values()].map(async (s) => [s.host, await clockOffset(s, 'clock')] as const)));
    let realWatch: RealWatch | undefined;
    if (realInput) {
      try {
        writer = await startWatchWriter(realInput.kubectl, realInput.kubeconfig, inv.masters);
        realWatch = realInput;
        out.line(`a real watch through the VIP with ${realInput.kubeconfig}: ConfigMap default/kha-drill, patched every 100 ms on ${writer.writing.join(', ')} directly`);
        for (const u of writer.unreached) out.warn(`the real watch's writes do not reach ${u.master} (${u.why}); a cluster's watch still sees those to ${writer.writing.join(', ')}`);
      } catch (e) {
        realWatch = { cannot: (e as Error).message };
        out.warn(`a real watch cannot be held with ${realInput.kubeconfig}: ${realWatch.cannot}`);
      }
    }
    const env: DrillEnv = {
      inv,
      sessions,
      partitionSeconds,
      limits: defaultLimits(inv),
      interfaces,
      stop: stopping.signal,
      progress: (t) => out.line(t),
      // On stderr also under --json: a host left broken must not go unseen.
      alarm: (t) => ctx.streams.stderr(`kha: ${t}\n`),
      reconnect: (host, timeoutMs) => reconnect(inv, sessions, host, timeoutMs),
      clocks,
      ...(node ? { node } : {}),
      ...(realWatch ? { realWatch } : {}),
    };
    for (const n of notApplicable) out.line(`${n.name}: ${doesNotApply(n, topology, inv)}`);
    for (const drill of drills) {
      const whole = await waitHealthy(env);
      if (!whole) break;
      // Without a VIP, --probe-from only chose the node (drillNode): there is no VIP to probe from it.
      const from = inv.vip && probeFrom();
      const result = await runDrill(drill, from ? { ...env, probeFrom: from } : env, whole.holder);
      results.push(result);
      for (const line of drillLines(result, inv.vip !== undefined)) out.line(line);
      // No further fault on a cluster that is not whole.
      notRestored.push(...result.notRestored);
      if (notRestored.length > 0) break;
    }
    if (notRestored.length === 0) await waitHealthy(env);
  } finally {
    await writer?.stop();
    removeHandlers();
    // Before the merge (a stop during the sweep), the extra sessions are not in `sessions` yet.
    await closeAll(new Map([...sessions, ...extra]));
  }
  const [head = [], ...rows] = drillTable(results, notApplicable, inv.vip && probeHost?.name, node?.name, inv.vip !== undefined);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  out.line('');
  for (const r of [head, ...rows]) out.line(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  if (flags.report) {
    await writeFile(flags.report, renderReport(results, { vip: inv.vip ? `${inv.vip.address}:${inv.port}` : null, inventory: file, version: VERSION, when: new Date().toISOString() }));
    out.line(`\nreport: ${flags.report}`);
  }
  if (notRestored.length > 0) out.error(`\nstopped: ${notRestored.join(', ')} not restored by kha; each host's own timer undoes its fault (see above)`);
  const passed = signal === undefined && notRestored.length === 0 && results.every((r) => r.passed);
  out.result({ ok: passed, interrupted: signal !== undefined, ...(signal && { signal }), notRestored, drills: results, notApplicable: notApplicable.map(({ name, why }) => ({ name, why })) });
  ctx.exit(signal ? INTERRUPT_EXIT[signal] : passed ? 0 : 1);
}
