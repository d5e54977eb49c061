import { InternalError } from '../errors.js';
import { haproxyDeathNoticedMs, proxyCheckSettings, type HaproxySettings, type Inventory, type LoadBalancer, type Master } from '../inventory/model.js';
import { parseServerLeftUp, serverLeftUpCommand } from '../observe/haproxy-stats.js';
import { vipPresentCommand } from '../observe/vip.js';
import type { ProxyHost } from '../topology/roles.js';
import type { Session } from '../transport/session.js';
import { on, onEach, sessionOf, sleep } from './exercise.js';
import type { summarize } from './timeline.js';
import type { Expectation, Fault } from './types.js';

// The drills: what each breaks, how each host mends it, what must hold.
// exercise.ts runs them all the same way: every fault's heal is armed on its
// host before the fault, so a drill restores even if kha dies.

export const DRILL_NAMES = [
  'keepalived-stop',
  'keepalived-kill',
  'haproxy-down',
  'backend-down',
  'partition',
  'failback',
  'reboot',
  'node-apiserver-stop',
  'node-master-crash',
] as const;
export type DrillName = (typeof DRILL_NAMES)[number];

/** Drills that take a whole host down: run only when the operator says --destructive. */
export const DESTRUCTIVE: ReadonlySet<DrillName> = new Set(['reboot']);

export interface DrillContext {
  inv: Inventory;
  sessions: ReadonlyMap<string, Session>;
  /** Holds the VIP when the drill starts; the usual target. Absent without a VIP, where only the drills from a node run. */
  holder?: LoadBalancer;
  /** The master a backend drill takes away. */
  master: Master;
  /** The host whose local proxy the drills from a node measure through; absent when no host has the proxy. */
  node?: ProxyHost;
  partitionSeconds: number;
  /** Longest client outage each drill may cause, in ms. */
  limits: Record<DrillName, number>;
  /** Records a moment on the drill's timeline: now, or `t` (from now() or onTimeline()). */
  mark(what: 'fault' | 'restore' | 'note', text: string, t?: number): void;
  /** Now on the drill's timeline (ms). */
  now(): number;
  /** A reading of a host's clock (ms since the epoch) on the drill's timeline; undefined when kha has not read that host's clock. */
  onTimeline(host: string, epochMs: number): number | undefined;
  /** A line for the operator while the drill runs. */
  progress(text: string): void;
  /** For drills that watch something besides the VIP (backend-down). */
  extra: Record<string, number | string | undefined>;
  /** A new session to a host that went away; the VIP watcher picks it up. */
  reconnect(host: string, timeoutMs: number): Promise<void>;
  /** keepalived's and haproxy's state on a host, as the topology reads it (its services, or its pods): `active` when running. */
  serviceStates(host: string): Promise<Record<string, string>>;
}

/** The holder, for a drill that breaks the VIP: such a drill runs only where there is one (topology/proxy-only.ts lists none). */
export function holderOf(ctx: Pick<DrillContext, 'holder'>): LoadBalancer {
  if (!ctx.holder) throw new InternalError('a drill of the VIP ran on a cluster with no VIP');
  return ctx.holder;
}

export type Summary = ReturnType<typeof summarize>;

export interface Drill {
  name: DrillName;
  /** 'node': measured by a 50 ms probe on `ctx.node` through its local proxy; applies only where a host has the proxy. */
  from?: 'node';
  title(ctx: DrillContext): string;
  /** What it cannot show on this cluster (empty: nothing): said before it runs and in the report. */
  caveat?(ctx: DrillContext): string;
  /** What the drill breaks, at most one fault per host, each with its heal: armed before inject, run after the hold. */
  faults(ctx: DrillContext): Fault[];
  /** How long inject may wait on the hosts besides its commands; the hosts' own restores wait this much longer. */
  injectMs: number;
  /** Settles every command it started before it returns or throws. */
  inject(ctx: DrillContext): Promise<void>;
  /** Measuring time between the fault and the restore. */
  holdMs(ctx: DrillContext): number;
  /** The timeline's mark as the heals start; reboot marks its host's return instead. */
  restoreText?(ctx: DrillContext): string;
  /** After the heals: reboot waits for its host to come back. */
  recover?(ctx: DrillContext): Promise<void>;
  expectations(ctx: DrillContext, s: Summary): Expectation[];
}

const holderSession = (ctx: DrillContext) => sessionOf(ctx, holderOf(ctx).name);

/** A stopped or killed service: started again, and running. */
function serviceFault(host: string, unit: 'keepalived' | 'haproxy'): Fault {
  return { host, heal: `systemctl start ${unit}`, healed: `systemctl is-active --quiet ${unit}`, whole: `${unit} active` };
}

/** A fault that one command per host injects. */
export interface Cut extends Fault {
  cut: string;
}

/** Deletes a route only if it is there, so the heal also suits a host the fault never reached, and fails if the deletion does. */
function routeGone(type: 'prohibit' | 'blackhole', address: string): { heal: string; healed: string } {
  const present = `ip route show exact ${address}/32 type ${type}`;
  return { heal: `if [ -n "$(${present})" ]; then ip route del ${type} ${address}/32; fi`, healed: `[ -z "$(${present})" ]` };
}

/** The hosts that may take the VIP from the holder. */
function peers(ctx: Pick<DrillContext, 'inv' | 'holder'>): LoadBalancer[] {
  return ctx.inv.lbs.filter((lb) => lb !== holderOf(ctx));
}

/**
 * Who should hold the VIP after the holder: its one peer, or any of them.
 * With three hosts two backups time out within a few ms of each other (the
 * priority skew is priority/256 of an advert), and without preempt the first
 * one keeps the VIP: the highest priority is likely, not certain.
 */
function peerText(ctx: Pick<DrillContext, 'inv' | 'holder'>): string {
  return peers(ctx).map((p) => p.name).join(' or ');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function moved(ctx: DrillContext, s: Summary): Expectation {
  const to = s.takeover?.to;
  return {
    name: `VIP moved to ${peerText(ctx)}`,
    held: peers(ctx).some((p) => p.name === to),
    detail: to ? `${to} took it ${seconds(s.vipMovedMs ?? 0)} after the fault` : 'no other host took the VIP',
  };
}

/** Polls every peer until one holds the VIP; each poll settles before the next, so nothing runs on after it returns. */
async function peerTakesOver(ctx: DrillContext, timeoutMs: number): Promise<string> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    for (const p of peers(ctx)) {
      const r = await sessionOf(ctx, p.name).exec(vipPresentCommand(ctx.inv), { timeoutMs: 5000 });
      if (r.code === 0) return p.name;
    }
    await sleep(100);
  }
  throw new Error(`no peer of ${holderOf(ctx).name} (${peerText(ctx)}) took the VIP within ${seconds(timeoutMs)}`);
}

function outageWithin(ctx: DrillContext, s: Summary, name: DrillName): Expectation {
  const limit = ctx.limits[name];
  return {
    name: `client outage ≤ ${seconds(limit)}`,
    held: s.longestOutageMs <= limit,
    detail: `longest ${seconds(s.longestOutageMs)}; ${s.failed} of ${s.sent} requests failed`,
  };
}

function singleHolder(s: Summary): Expectation {
  return { name: 'never two holders', held: s.dualHoldingMs === 0, detail: s.dualHoldingMs === 0 ? 'one holder throughout' : `two hosts held the VIP for ${seconds(s.dualHoldingMs)}` };
}

/** How long after the VIP moved a held connection may still wait for its next event, when the move was planned. */
export const STREAM_RESUME_MS = 1000;

/**
 * A planned move ends every connection held through the old holder so that
 * it resumes on the new one (the release script, docs/live-connections.md).
 * A stream's wait counts from the later of its last event and the VIP's move:
 * one served on through the old holder for a while is not late for that, and
 * one cut before the move (haproxy dead) waits for the takeover like every
 * client. Judged only where streams were measured (the lab's stand-in serves them).
 *
 * The drill's own clients reconnect in their process, as an informer
 * re-watches, so their wait is the failover's. The operator's kubectl
 * resumes as a new process, whose start is the instrument's cost (0.1 s on
 * an idle operator's machine; 0.4-1.3 s on the lab's two shared cores while
 * a runtime starts containers beside it): once its connection ended it is
 * judged on when it learned, and its resumption is reported with the others.
 */
function streamsResumed(s: Summary): Expectation[] {
  if (s.streams.length === 0) return [];
  const moved = s.takeover?.takenAt;
  const judged = (x: Summary['streams'][number]): { what: string; t: number | undefined } =>
    x.kind === 'kubectl' && x.learned ? { what: 'learned', t: x.learned.t } : { what: 'resumed', t: x.resumedAt };
  const waited = (x: Summary['streams'][number]): number | undefined => {
    const { t } = judged(x);
    return t === undefined ? undefined : t - Math.max(x.stoppedAt ?? 0, moved ?? 0);
  };
  const late = s.streams.filter((x) => {
    if (x.stalledMs === 0) return false;
    const w = waited(x);
    return w === undefined || w > STREAM_RESUME_MS;
  });
  return [
    {
      name: `held connections resume ≤ ${seconds(STREAM_RESUME_MS)} after the move`,
      held: late.length === 0,
      detail:
        late.length === 0
          ? `longest stall ${seconds(Math.max(0, ...s.streams.map((x) => x.stalledMs)))}`
          : late.map((x) => `${x.name}: ${waited(x) === undefined ? 'still stuck at the end' : `${judged(x).what} ${seconds(waited(x)!)} after`}`).join('; '),
    },
  ];
}

function reported(s: Summary): Expectation {
  return { name: 'two holders reported', held: true, detail: s.dualHoldingMs === 0 ? 'none seen' : `two hosts held the VIP for ${seconds(s.dualHoldingMs)}` };
}

const HOLD_MS = 3500;

/** A drill that breaks one service on the VIP holder; the heal brings it back. */
function onHolder(spec: {
  name: DrillName;
  title: (holder: string) => string;
  /** The fault as the timeline names it, and the command that injects it on the holder. */
  fault: [text: string, command: string];
  heal: (host: string) => Fault;
  restored: string;
  twoHolders: 'never' | 'reported';
  /**
   * A planned move (the old holder lives on, and kha's release ends its held
   * connections in time): judged. After kill -9 the release waits out the
   * backup's master-down interval: reported.
   */
  judgeStreams: boolean;
}): Drill {
  return {
    name: spec.name,
    title: (ctx) => spec.title(holderOf(ctx).name),
    faults: (ctx) => [spec.heal(holderOf(ctx).name)],
    injectMs: 0,
    async inject(ctx) {
      ctx.mark('fault', `${spec.fault[0]} on ${holderOf(ctx).name}`);
      await on(holderSession(ctx), spec.fault[1]);
    },
    // Long enough for the failover the limit allows to happen and be seen.
    holdMs: (ctx) => Math.max(HOLD_MS, ctx.limits[spec.name] + 2000),
    restoreText: (ctx) => `${spec.restored} on ${holderOf(ctx).name}`,
    expectations: (ctx, s) => [
      moved(ctx, s),
      outageWithin(ctx, s, spec.name),
      spec.twoHolders === 'never' ? singleHolder(s) : reported(s),
      ...(spec.judgeStreams ? streamsResumed(s) : []),
    ],
  };
}

/** How a topology stops and kills keepalived on a host, and gets it back: its systemd service, or its pod. */
export interface KeepalivedHandling {
  /** What the titles say is stopped: "keepalived", or its container and how. */
  stopped: string;
  /** [timeline text, command]: keepalived ends cleanly, with its goodbye advert. */
  stop: [string, string];
  /** [timeline text, command]: every keepalived process gets SIGKILL. */
  kill: [string, string];
  back: (host: string) => Fault;
  /** The timeline's mark as the heal starts. */
  restored: string;
}

export const KEEPALIVED_SERVICE: KeepalivedHandling = {
  stopped: 'keepalived',
  stop: ['systemctl stop keepalived', 'systemctl stop keepalived'],
  kill: ['kill -9 keepalived', 'systemctl kill --signal=SIGKILL keepalived'],
  back: (host) => serviceFault(host, 'keepalived'),
  restored: 'keepalived started',
};

/**
 * keepalived stopped (a graceful handover) and killed (no goodbye advert).
 * After kill -9 nothing of keepalived is left to take the VIP off: kha's
 * drop-in or pod wrapper does, so a backup takes over after its master-down
 * interval and two hosts never hold the VIP, judged as in a graceful stop.
 */
export function keepalivedDrills(h: KeepalivedHandling): [stop: Drill, kill: Drill] {
  return [
    onHolder({
      name: 'keepalived-stop',
      title: (holder) => `stop ${h.stopped} on the VIP holder ${holder} (a graceful handover)`,
      fault: h.stop,
      heal: h.back,
      restored: h.restored,
      twoHolders: 'never',
      judgeStreams: true,
    }),
    onHolder({
      name: 'keepalived-kill',
      title: (holder) => `SIGKILL keepalived on the VIP holder ${holder} (no goodbye advert)`,
      fault: h.kill,
      heal: h.back,
      restored: h.restored,
      twoHolders: 'never',
      judgeStreams: false,
    }),
  ];
}

const [keepalivedStop, keepalivedKill] = keepalivedDrills(KEEPALIVED_SERVICE);

const haproxyDown = onHolder({
  name: 'haproxy-down',
  title: (h) => `stop haproxy on the VIP holder ${h}: its check must hand the VIP over`,
  fault: ['systemctl stop haproxy', 'systemctl stop haproxy'],
  heal: (host) => serviceFault(host, 'haproxy'),
  restored: 'haproxy started',
  twoHolders: 'never',
  judgeStreams: true,
});

/** `ip route prohibit` makes connects to the master fail at once on every load balancer, as if its apiserver had stopped. */
export function backendCuts(inv: Inventory, master: Master): Cut[] {
  return inv.lbs.map((lb) => ({
    host: lb.name,
    cut: `ip route add prohibit ${master.address}/32`,
    ...routeGone('prohibit', master.address),
    whole: `no prohibit route to ${master.address}`,
  }));
}

/** How long the backend drill watches haproxy for the master to be marked down. */
const MARKED_DOWN_WATCH_MS = 5000;

/**
 * Watches an haproxy on its host until it marks `server` down, from now
 * (the moment the fault is in place): how long that took goes to
 * `extra.markedDownMs`, the moment onto the timeline, and the span it lies
 * in (`extra.upUntil`, `extra.downBy`) to the judgement of failed requests.
 * The loop runs on the host and its clock dates the change, so an SSH
 * round trip per reading does not add to the figure the drill judges.
 * Gives up silently after `watchMs`: the drill's expectations say it never
 * happened.
 */
async function watchMarkedDown(ctx: DrillContext, session: Session, statsPort: number, server: string, watchMs: number): Promise<void> {
  const from = ctx.now();
  const r = await session.exec(serverLeftUpCommand(statsPort, 'kube_apiserver', server, watchMs), { timeoutMs: watchMs + 10_000 }).catch(() => undefined);
  const left = parseServerLeftUp(r?.stdout ?? '');
  if (!left) return;
  const upUntil = ctx.onTimeline(session.host, left.upAt);
  const downBy = ctx.onTimeline(session.host, left.leftAt);
  // Without the host's clock: somewhere between the fault and the answer.
  const span = upUntil === undefined || downBy === undefined ? { upUntil: from, downBy: ctx.now() } : { upUntil: Math.max(from, upUntil), downBy: Math.max(from, downBy) };
  Object.assign(ctx.extra, span, { markedDownMs: span.downBy - from });
  ctx.mark('note', `${server} marked ${left.status} by haproxy on ${session.host}`, span.downBy);
}

/** Around the span of the mark-down: the host clock's uncertainty and the client's own timing. */
const MARK_DOWN_SLACK_MS = 50;

/**
 * Failed requests, apart from the one haproxy's mark-down may cost. Its
 * `on-marked-down shutdown-sessions` (templates/partials/haproxy-apiservers.ejs)
 * closes every connection attached to the server at that instant, and a
 * connection whose connect the server has just refused is still attached
 * while haproxy redispatches it (haproxy logs it `D-`): that request fails,
 * and no retry saves it. kha keeps the option because it is what frees the
 * watches held on a master that crashed. So one failure ending within the
 * span in which haproxy marked the server down is the option's price; any
 * other is the drill's.
 */
function beyondMarkDown(ctx: Pick<DrillContext, 'extra'>, failedEndsMs: readonly number[]): { beyond: number; atMarkDown: number } {
  const { upUntil, downBy } = ctx.extra;
  if (typeof upUntil !== 'number' || typeof downBy !== 'number') return { beyond: failedEndsMs.length, atMarkDown: 0 };
  const at = failedEndsMs.filter((t) => t >= upUntil - MARK_DOWN_SLACK_MS && t <= downBy + MARK_DOWN_SLACK_MS).length;
  const atMarkDown = Math.min(at, 1);
  return { beyond: failedEndsMs.length - atMarkDown, atMarkDown };
}

/** "no failed request", judged with beyondMarkDown: `where` names the client, `what` the requests, `master` the server marked down. */
function noFailedBeyondMarkDown(ctx: Pick<DrillContext, 'extra'>, p: { failed: number; sent: number; failedEndsMs: readonly number[] }, where: string, what: string, master: string): Expectation {
  const { beyond, atMarkDown } = beyondMarkDown(ctx, p.failedEndsMs);
  const why = atMarkDown ? ` (${p.failed === 1 ? 'it was' : 'one was'} closed by haproxy as it marked ${master} down)` : '';
  return { name: `no failed request${where}, beyond one closed as ${master} leaves rotation`, held: beyond === 0 && p.sent > 0, detail: `${p.failed} of ${p.sent} ${what} failed${why}` };
}

/**
 * One master's apiserver taken away from haproxy everywhere: the topology
 * says how (`cuts`); what must hold is the same on every topology.
 */
export function backendDrill(spec: { title: (ctx: DrillContext) => string; cuts: (ctx: DrillContext) => Cut[]; marked: (ctx: DrillContext) => string }): Drill {
  return {
    name: 'backend-down',
    title: spec.title,
    faults: spec.cuts,
    injectMs: MARKED_DOWN_WATCH_MS,
    async inject(ctx) {
      await onEach(ctx, spec.cuts(ctx).map((c) => ({ host: c.host, command: c.cut })));
      // From the moment the cuts are in place, not from before the SSH round trips that set them.
      ctx.mark('fault', spec.marked(ctx));
      await watchMarkedDown(ctx, holderSession(ctx), ctx.inv.haproxy.monitor_port, ctx.master.name, MARKED_DOWN_WATCH_MS);
    },
    holdMs: () => 2500,
    restoreText: (ctx) => `${ctx.master.name} reachable again`,
    expectations: (ctx, s) => {
      const down = ctx.extra.markedDownMs;
      return [
        noFailedBeyondMarkDown(ctx, s, '', 'requests', ctx.master.name),
        {
          name: `${ctx.master.name} out of rotation within 1 s`,
          held: typeof down === 'number' && down <= 1000,
          detail: typeof down === 'number' ? `haproxy marked it down after ${seconds(down)}` : 'haproxy never marked it down',
        },
      ];
    },
  };
}

const backendDown = backendDrill({
  title: (ctx) => `make ${ctx.master.name}'s apiserver unreachable from every load balancer`,
  cuts: (ctx) => backendCuts(ctx.inv, ctx.master),
  marked: (ctx) => `${ctx.master.name} cut off from the load balancers`,
});

/**
 * A rule inserted at the top of a host's iptables chain, marked as the
 * drill's: the heal deletes every copy, so it also suits a host the fault
 * never reached. iptables, because kubeadm's hosts have it (kube-proxy's
 * rules live there too).
 */
function iptablesCut(host: string, rule: string, purpose: string, whole: string): Cut {
  return {
    host,
    cut: `command -v iptables >/dev/null || { echo 'iptables not found: the drill ${purpose} with it' >&2; exit 3; }; iptables -w -I ${rule}`,
    heal: `if command -v iptables >/dev/null; then while iptables -w -D ${rule} 2>/dev/null; do :; done; fi`,
    healed: `! { command -v iptables >/dev/null && iptables -w -C ${rule} 2>/dev/null; }`,
    whole,
  };
}

/**
 * The master refuses its apiserver's port, on the master itself: every
 * client (its own haproxy, the other masters', the load balancers', a node's
 * local proxy) gets a reset, as when the apiserver stops, while VRRP and etcd
 * between the masters go on. A route elsewhere cannot do it for the master's
 * own haproxy: the master reaches its own address through the local table,
 * which no route overrides. On a real master the apiserver is a static pod,
 * and stopping it means moving its manifest away and waiting for the
 * kubelet; to its clients the rule looks the same (a reset for every SYN),
 * and one command undoes it. Only SYNs: a stopping apiserver finishes the
 * requests it has; a reset for every packet also broke a request caught
 * mid-flight, which no retry can hide (1 of 101 failed so in a drill).
 */
export function apiserverPortCut(m: Master): Cut {
  return iptablesCut(
    m.name,
    `INPUT -p tcp --dport ${m.apiserverPort} --syn -m comment --comment kha-drill -j REJECT --reject-with tcp-reset`,
    'refuses the apiserver port',
    `${m.name} accepts connections on ${m.apiserverPort} again`,
  );
}

/**
 * The master falls silent for one node: the node drops every packet from
 * it. A crashed host answers nothing (no reset, no ICMP), so its clients
 * learn of it only through their own timeouts, which is what this imitates:
 * the node's SYNs leave, the answers never arrive. A route on the node would
 * not do: blackhole, prohibit and unreachable routes fail a connect at once,
 * locally, which no crash does. Cut on the node, not the master: the rest of
 * the cluster (etcd, the load balancers, other nodes) goes on, and kha needs
 * no SSH to the master, which a real crash would take away too.
 */
export function masterSilenceCut(node: ProxyHost, m: Master): Cut {
  return iptablesCut(node.name, `INPUT -s ${m.address}/32 -m comment --comment kha-drill -j DROP`, 'drops the packets of the master', `${node.name} hears ${m.name} again`);
}

/** Where the cut keeps rp_filter's old value for the heal. */
const RP_FILTER_STASH = '/run/kha-drill-rp_filter';

/**
 * The holder and its peers stop hearing each other: on each side a
 * blackhole route to the other side plus reverse-path filtering, so the
 * kernel drops the other side's packets on input. (A blackhole alone stops
 * nothing: keepalived sends on a socket bound to the interface, and such
 * sends skip device-less routes; tc's drop action needs a kernel module that
 * hosts and containers often lack.) The backup takes the VIP while the
 * holder keeps it: split brain. kha's SSH and the clients are untouched. The
 * old rp_filter value is kept in /run and restored; the stash is removed only
 * once it has been put back, so its absence means rp_filter is whole.
 */
export function partitionCommands(inv: Inventory, holder: LoadBalancer): Cut[] {
  const peers = inv.lbs.filter((lb) => lb.name !== holder.name);
  const side = (host: string, others: string[]): Cut => {
    const routes = others.map((a) => routeGone('blackhole', a));
    return {
      host,
      cut: [
        `cat /proc/sys/net/ipv4/conf/all/rp_filter > ${RP_FILTER_STASH}`,
        'sysctl -qw net.ipv4.conf.all.rp_filter=1',
        ...others.map((a) => `ip route add blackhole ${a}/32`),
      ].join(' && '),
      heal: [
        ...routes.map((r) => r.heal),
        `if [ -f ${RP_FILTER_STASH} ]; then sysctl -qw net.ipv4.conf.all.rp_filter="$(cat ${RP_FILTER_STASH})" && rm -f ${RP_FILTER_STASH}; fi`,
      ].join(' && '),
      healed: [...routes.map((r) => r.healed), `[ ! -e ${RP_FILTER_STASH} ]`].join(' && '),
      whole: `no blackhole route to ${others.join(', ')}, rp_filter as before`,
    };
  };
  return [side(holder.name, peers.map((p) => p.address)), ...peers.map((p) => side(p.name, [holder.address]))];
}

/** The holder cut off from its peers; `caveat` is what the drill cannot show where the hosts do more than carry the endpoint. */
export function partitionDrill(caveat?: (ctx: DrillContext) => string): Drill {
  return {
    name: 'partition',
    title: (ctx) => `the holder ${holderOf(ctx).name} and its peers stop hearing each other for ${ctx.partitionSeconds} s (split brain)`,
    ...(caveat ? { caveat } : {}),
    faults: (ctx) => partitionCommands(ctx.inv, holderOf(ctx)),
    injectMs: 0,
    async inject(ctx) {
      ctx.mark('fault', `${holderOf(ctx).name} cut off from its peers`);
      await onEach(ctx, partitionCommands(ctx.inv, holderOf(ctx)).map((p) => ({ host: p.host, command: p.cut })));
    },
    holdMs: (ctx) => ctx.partitionSeconds * 1000,
    restoreText: (ctx) => `${holderOf(ctx).name} and its peers hear each other again`,
    expectations: (ctx, s) => [moved(ctx, s), outageWithin(ctx, s, 'partition'), reported(s)],
  };
}

/** How long the failback drill waits for a peer to take the VIP, and then lets it settle. */
const TAKEOVER_WAIT_MS = 10_000;
const SETTLE_MS = 1000;

const failback: Drill = {
  name: 'failback',
  title: (ctx) =>
    `${holderOf(ctx).name} returns after losing the VIP: ${ctx.inv.keepalived.preempt ? `it takes the VIP back after ${ctx.inv.keepalived.preemptDelay} s` : 'it must stay backup (nopreempt)'}`,
  faults: (ctx) => [serviceFault(holderOf(ctx).name, 'keepalived')],
  injectMs: TAKEOVER_WAIT_MS + SETTLE_MS,
  async inject(ctx) {
    await on(holderSession(ctx), 'systemctl stop keepalived');
    ctx.progress(`  keepalived stopped on ${holderOf(ctx).name}, waiting for ${peerText(ctx)} to take the VIP`);
    await peerTakesOver(ctx, TAKEOVER_WAIT_MS);
    await sleep(SETTLE_MS);
    ctx.mark('fault', `keepalived back on ${holderOf(ctx).name}`);
    await on(holderSession(ctx), 'systemctl start keepalived');
  },
  holdMs: (ctx) => (ctx.inv.keepalived.preempt ? ctx.inv.keepalived.preemptDelay * 1000 + 3000 : 4000),
  restoreText: () => 'end of the return',
  expectations: (ctx, s) => {
    const stays = !ctx.inv.keepalived.preempt;
    const back = s.takeover?.to === holderOf(ctx).name;
    return [
      stays
        ? { name: `VIP stays on ${peerText(ctx)}`, held: !s.takeover, detail: s.takeover ? `${s.takeover.to} took it` : 'no move' }
        : { name: `VIP back on ${holderOf(ctx).name}`, held: back, detail: back ? `after ${seconds(s.vipMovedMs ?? 0)}` : 'it did not come back' },
      outageWithin(ctx, s, 'failback'),
      singleHolder(s),
      ...streamsResumed(s),
    ];
  },
};

/** How long a rebooting host may take to answer SSH and run both services again. */
const REBOOT_BACK_MS = 180_000;

/**
 * The whole holder goes down and comes back: the VIP must move, and the host
 * must return with keepalived and haproxy running (as services, or as pods
 * its kubelet starts), without taking the VIP back (nopreempt) — what a
 * kernel update at night does. While it is down kha cannot see whether it
 * still holds the VIP, so two holders are reported, not judged. Nothing to
 * arm: the host comes back by itself.
 */
const reboot: Drill = {
  name: 'reboot',
  title: (ctx) => `reboot the VIP holder ${holderOf(ctx).name} and wait for it to return`,
  faults: () => [],
  injectMs: 0,
  async inject(ctx) {
    ctx.mark('fault', `reboot of ${holderOf(ctx).name}`);
    // systemctl returns once the reboot is queued; the connection may drop before it answers.
    await holderSession(ctx).exec('systemctl reboot', { timeoutMs: 10_000 }).catch(() => undefined);
  },
  holdMs: (ctx) => Math.max(HOLD_MS, ctx.limits.reboot + 2000),
  async recover(ctx) {
    const host = holderOf(ctx).name;
    const t = performance.now();
    await ctx.reconnect(host, REBOOT_BACK_MS);
    const end = t + REBOOT_BACK_MS;
    let states: Record<string, string> = {};
    for (;;) {
      states = await ctx.serviceStates(host).catch((e: unknown) => ({ state: `unreadable (${e instanceof Error ? e.message : String(e)})` }));
      if (Object.values(states).every((s) => s === 'active')) break;
      if (performance.now() > end) {
        throw new Error(`${host} answers again, but not with keepalived and haproxy running within ${seconds(REBOOT_BACK_MS)}: ${Object.entries(states).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      }
      await sleep(500);
    }
    ctx.extra.backAfterMs = performance.now() - t;
    ctx.mark('restore', `${host} back, keepalived and haproxy running`);
  },
  expectations: (ctx, s) => {
    const back = ctx.extra.backAfterMs;
    const expectations = [moved(ctx, s), outageWithin(ctx, s, 'reboot'), reported(s), ...streamsResumed(s)];
    expectations.push({
      name: `${holderOf(ctx).name} back with both services`,
      held: typeof back === 'number',
      detail: typeof back === 'number' ? `answering with keepalived and haproxy running ${seconds(back)} after the hold` : 'it did not come back',
    });
    if (!ctx.inv.keepalived.preempt) {
      const retaken = s.finalHolders.includes(holderOf(ctx).name);
      expectations.push({ name: `VIP stays on ${peerText(ctx)}`, held: !retaken, detail: retaken ? `${holderOf(ctx).name} holds it at the end` : `held by ${s.finalHolders.join(', ') || 'nobody'} at the end` });
    }
    return expectations;
  },
};

/**
 * How long a local proxy's haproxy may take to mark a master's apiserver
 * DOWN, from hosts.yaml's haproxy timings: the next check starts within
 * `inter`; a refused check fails at once, a silent one when its connect
 * times out, after min(timeout connect, inter) (with `timeout check` set,
 * haproxy bounds a check's connect by both); after a failure the checks come
 * every `fastinter`, and `fall` failures mark the server down. Plus 300 ms:
 * a check under way when the fault comes still passes (a TLS handshake,
 * ~50 ms), and the host's loop sees the change within a reading of the
 * statistics (20 ms apart, each ~40–150 ms on a busy host).
 */
export function proxyMarkedDownMs(h: HaproxySettings, apiserver: 'refusing' | 'silent'): number {
  const checkFailsAfter = apiserver === 'silent' ? Math.min(h.timeout_connect_ms, h.check_inter_ms) : 0;
  return h.check_inter_ms + h.check_fall * checkFailsAfter + (h.check_fall - 1) * h.check_fastinter_ms + 300;
}

/** The master a drill from a node takes away: the backend drill's, unless that is the node itself (node_proxy.masters), then the one before it. */
export function nodeDrillMaster(ctx: Pick<DrillContext, 'inv' | 'master' | 'node'>): Master {
  if (ctx.node?.name !== ctx.master.name) return ctx.master;
  return ctx.inv.masters.filter((m) => m.name !== ctx.master.name).at(-1) ?? ctx.master;
}

function nodeOf(ctx: Pick<DrillContext, 'node'>): ProxyHost {
  if (!ctx.node) throw new Error('no host runs the local proxy (hosts.yaml nodes:, or node_proxy.masters): there is nothing to drill from');
  return ctx.node;
}

/** How long a drill from a node watches its proxy for the master to be marked down. */
const NODE_WATCH_MS = 5000;

const NGINX_KEEPS_NO_STATE = 'nginx (node_proxy.software) checks nothing by itself and shows no state of the apiservers';

interface NodeDrillSpec {
  name: DrillName;
  title: (node: ProxyHost, master: Master) => string;
  cut: (node: ProxyHost, master: Master) => Cut;
  /** The fault's mark on the timeline. */
  marked: (node: ProxyHost, master: Master) => string;
  nginxCaveat: string;
  expectations: (ctx: DrillContext, probe: NodeProbe, node: ProxyHost, master: Master) => Expectation[];
}

type NodeProbe = NonNullable<Summary['node']>;

/**
 * A master taken away from one node, measured by the 50 ms probe on that
 * node through its local proxy (run.ts starts it for drills `from: 'node'`).
 * With haproxy the node's own statistics say when the master left rotation.
 */
function nodeDrill(spec: NodeDrillSpec): Drill {
  const software = (ctx: DrillContext) => ctx.inv.nodeProxy?.software ?? 'haproxy';
  return {
    name: spec.name,
    from: 'node',
    title: (ctx) => spec.title(nodeOf(ctx), nodeDrillMaster(ctx)),
    caveat: (ctx) => (software(ctx) === 'nginx' ? spec.nginxCaveat : ''),
    faults: (ctx) => [spec.cut(nodeOf(ctx), nodeDrillMaster(ctx))],
    injectMs: NODE_WATCH_MS,
    async inject(ctx) {
      const node = nodeOf(ctx);
      const master = nodeDrillMaster(ctx);
      const cut = spec.cut(node, master);
      await on(sessionOf(ctx, cut.host), cut.cut);
      ctx.mark('fault', spec.marked(node, master));
      const np = ctx.inv.nodeProxy;
      if (np?.software === 'haproxy') await watchMarkedDown(ctx, sessionOf(ctx, node.name), np.healthPort, master.name, NODE_WATCH_MS);
    },
    // Past the limit, long enough to see the proxy steady without the master (and nginx try it again after fail_timeout).
    holdMs: (ctx) => Math.max(3000, ctx.limits[spec.name] + 1000),
    restoreText: (ctx) => `${nodeDrillMaster(ctx).name} back for ${nodeOf(ctx).name}`,
    expectations: (ctx, s) => {
      const node = nodeOf(ctx);
      if (!s.node) return [{ name: `probe on ${node.name} reported`, held: false, detail: 'it never started (no SSH session or clock for the node)' }];
      if (s.node.error !== undefined) return [{ name: `probe on ${node.name} reported`, held: false, detail: s.node.error }];
      return spec.expectations(ctx, s.node, node, nodeDrillMaster(ctx));
    },
  };
}

function outOfRotation(ctx: DrillContext, node: ProxyHost, master: Master, limitMs: number): Expectation {
  const down = ctx.extra.markedDownMs;
  return {
    name: `${master.name} out of rotation on ${node.name} within ${seconds(limitMs)}`,
    held: typeof down === 'number' && down <= limitMs,
    detail: typeof down === 'number' ? `its proxy marked it down after ${seconds(down)}` : `its proxy never marked it down within ${seconds(NODE_WATCH_MS)}`,
  };
}

const nodeApiserverStop = nodeDrill({
  name: 'node-apiserver-stop',
  title: (node, m) => `refuse ${m.name}'s apiserver port ${m.apiserverPort} on ${m.name} (its apiserver stopped), measured from ${node.name} through its local proxy`,
  cut: (_node, m) => apiserverPortCut(m),
  marked: (_node, m) => `${m.name} refuses ${m.apiserverPort}`,
  nginxCaveat: `${NGINX_KEEPS_NO_STATE}: a refused connection is passed to the next apiserver at once, so the requests are judged, and nothing tells when the master left rotation`,
  // nginx closes nothing when it gives up on an apiserver: every failure is the drill's.
  expectations: (ctx, p, node, m) =>
    ctx.inv.nodeProxy?.software === 'nginx'
      ? [{ name: `no failed request through ${node.name}'s proxy`, held: p.failed === 0 && p.sent > 0, detail: `${p.failed} of ${p.sent} requests to ${p.url} failed` }]
      : [
          noFailedBeyondMarkDown(ctx, p, ` through ${node.name}'s proxy`, `requests to ${p.url}`, m.name),
          outOfRotation(ctx, node, m, proxyMarkedDownMs(proxyCheckSettings(ctx.inv), 'refusing')),
        ],
});

const nodeMasterCrash = nodeDrill({
  name: 'node-master-crash',
  title: (node, m) => `${m.name} falls silent for ${node.name} (a crash: ${node.name} drops its packets), measured through ${node.name}'s local proxy`,
  cut: (node, m) => masterSilenceCut(node, m),
  marked: (node, m) => `${m.name} silent for ${node.name}`,
  nginxCaveat: `${NGINX_KEEPS_NO_STATE}: every connection sent to the silent master waits proxy_connect_timeout before the next apiserver is tried, and after max_fails it is left out for fail_timeout, then tried again; that cost is reported, not judged`,
  expectations: (ctx, p, node, m) => {
    const limit = ctx.limits['node-master-crash'];
    const figures = `longest ${seconds(p.longestOutageMs)}; ${p.failed} of ${p.sent} requests to ${p.url} failed; slowest answer ${seconds(p.slowestMs)}`;
    if (ctx.inv.nodeProxy?.software === 'nginx') return [{ name: `what nginx's passive checks cost ${node.name}, reported`, held: true, detail: figures }];
    return [outOfRotation(ctx, node, m, limit), { name: `outage through ${node.name}'s proxy ≤ ${seconds(limit)}`, held: p.longestOutageMs <= limit, detail: figures }];
  },
});

export const DRILLS: readonly Drill[] = [keepalivedStop, keepalivedKill, haproxyDown, backendDown, partitionDrill(), failback, reboot, nodeApiserverStop, nodeMasterCrash];

/**
 * Outage limits: hosts.yaml's drills.max_outage, else from the timing settings: a graceful stop hands over
 * within about one advert; a silent holder is replaced after three adverts
 * and the skew; a dead haproxy is noticed by the check (haproxyDeathNoticedMs) and
 * then handed over like a stop; a node's proxy stops sending to a silent
 * master once its checks mark it down.
 */
export function defaultLimits(inv: Inventory): Record<DrillName, number> {
  const advert = inv.keepalived.advertInt * 1000;
  const silent = 3 * advert + advert + 300;
  const check = haproxyDeathNoticedMs(inv.keepalived.check) + advert + 300;
  const derived: Record<DrillName, number> = {
    'keepalived-stop': Math.max(200, advert),
    'keepalived-kill': Math.max(1000, silent),
    // The check notices within 0.3 s and the move measured at most 0.5 s (docs/live-connections.md); a floor of 1 s keeps a busy host's slip from failing the drill.
    'haproxy-down': Math.max(1000, check),
    'backend-down': 0,
    partition: Math.max(1000, silent),
    failback: inv.keepalived.preempt ? Math.max(1000, silent) : 0,
    reboot: Math.max(1000, silent),
    // A refused connection is retried on another apiserver at once (templates/partials/haproxy-defaults.ejs).
    'node-apiserver-stop': 0,
    'node-master-crash': proxyMarkedDownMs(proxyCheckSettings(inv), 'silent'),
  };
  return { ...derived, ...inv.drills.maxOutageMs };
}
