import type { Inventory, LoadBalancer, Master } from '../inventory/model.js';
import { readHaproxyStats } from '../observe/haproxy-stats.js';
import { vipPresentCommand } from '../observe/vip.js';
import type { Session } from '../transport/session.js';
import { on, onEach, sessionOf, sleep } from './exercise.js';
import type { summarize } from './timeline.js';
import type { Expectation, Fault } from './types.js';

// The drills: what each breaks, how each host mends it, what must hold.
// exercise.ts runs them all the same way: every fault's heal is armed on its
// host before the fault, so a drill restores even if kha dies.

export const DRILL_NAMES = ['keepalived-stop', 'keepalived-kill', 'haproxy-down', 'backend-down', 'partition', 'failback', 'reboot'] as const;
export type DrillName = (typeof DRILL_NAMES)[number];

/** Drills that take a whole host down: run only when the operator says --destructive. */
export const DESTRUCTIVE: ReadonlySet<DrillName> = new Set(['reboot']);

export interface DrillContext {
  inv: Inventory;
  sessions: ReadonlyMap<string, Session>;
  /** Holds the VIP when the drill starts; the usual target. */
  holder: LoadBalancer;
  /** The master a backend drill takes away. */
  master: Master;
  partitionSeconds: number;
  /** Longest client outage each drill may cause, in ms. */
  limits: Record<DrillName, number>;
  /** Records a moment on the drill's timeline. */
  mark(what: 'fault' | 'restore' | 'note', text: string): void;
  /** A line for the operator while the drill runs. */
  progress(text: string): void;
  /** For drills that watch something besides the VIP (backend-down). */
  extra: Record<string, number | string | undefined>;
  /** A new session to a host that went away; the VIP watcher picks it up. */
  reconnect(host: string, timeoutMs: number): Promise<void>;
}

export type Summary = ReturnType<typeof summarize>;

export interface Drill {
  name: DrillName;
  title(ctx: DrillContext): string;
  /** What it cannot show where the hosts do more than carry the endpoint: said before it runs and in the report. */
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

const holderSession = (ctx: DrillContext) => sessionOf(ctx, ctx.holder.name);

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
  return ctx.inv.lbs.filter((lb) => lb !== ctx.holder);
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
  throw new Error(`no peer of ${ctx.holder.name} (${peerText(ctx)}) took the VIP within ${seconds(timeoutMs)}`);
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

/** How soon after the VIP moved a held connection must flow again when the move was planned (the old holder lives on). */
export const STREAM_RESUME_MS = 1000;

/**
 * A planned move ends every connection held through the old holder so that
 * it resumes on the new one (the release script, docs/live-connections.md).
 * Judged only where streams were measured (the lab's stand-in serves them).
 */
function streamsResumed(s: Summary): Expectation[] {
  if (s.streams.length === 0) return [];
  const late = s.streams.filter((x) => {
    if (x.stalledMs === 0) return false;
    const from = s.takeover?.takenAt ?? x.stoppedAt ?? 0;
    return x.resumedAt === undefined || x.resumedAt - from > STREAM_RESUME_MS;
  });
  return [
    {
      name: `held connections resume ≤ ${seconds(STREAM_RESUME_MS)} after the move`,
      held: late.length === 0,
      detail: late.length === 0 ? 'every stream flowed again in time' : late.map((x) => `${x.name}: ${x.resumedAt === undefined ? 'still stuck at the end' : `resumed ${seconds(x.resumedAt - (s.takeover?.takenAt ?? x.stoppedAt ?? 0))} after`}`).join('; '),
    },
  ];
}

function reported(s: Summary): Expectation {
  return { name: 'two holders reported', held: true, detail: s.dualHoldingMs === 0 ? 'none seen' : `two hosts held the VIP for ${seconds(s.dualHoldingMs)}` };
}

const HOLD_MS = 3500;

/** A drill that breaks one service on the VIP holder; the heal starts it again. */
function onHolder(spec: {
  name: DrillName;
  title: (holder: string) => string;
  fault: [text: string, command: string];
  service: 'keepalived' | 'haproxy';
  restored: string;
  twoHolders: 'never' | 'reported';
  /** The old holder lives on: its held connections must be ended and resume on the new holder. */
  planned: boolean;
}): Drill {
  return {
    name: spec.name,
    title: (ctx) => spec.title(ctx.holder.name),
    faults: (ctx) => [serviceFault(ctx.holder.name, spec.service)],
    injectMs: 0,
    async inject(ctx) {
      ctx.mark('fault', `${spec.fault[0]} on ${ctx.holder.name}`);
      await on(holderSession(ctx), spec.fault[1]);
    },
    // Long enough for the failover the limit allows to happen and be seen.
    holdMs: (ctx) => Math.max(HOLD_MS, ctx.limits[spec.name] + 2000),
    restoreText: (ctx) => `${spec.restored} on ${ctx.holder.name}`,
    expectations: (ctx, s) => [
      moved(ctx, s),
      outageWithin(ctx, s, spec.name),
      spec.twoHolders === 'never' ? singleHolder(s) : reported(s),
      ...(spec.planned ? streamsResumed(s) : []),
    ],
  };
}

const keepalivedStop = onHolder({
  name: 'keepalived-stop',
  title: (h) => `stop keepalived on the VIP holder ${h} (a graceful handover)`,
  fault: ['systemctl stop keepalived', 'systemctl stop keepalived'],
  service: 'keepalived',
  restored: 'keepalived started',
  twoHolders: 'never',
  planned: true,
});

// After kill -9 nothing of keepalived is left to take the VIP off: kha's
// drop-in does (ExecStopPost), so a backup takes over after its master-down
// interval and two hosts never hold the VIP, judged as in a graceful stop.
const keepalivedKill = onHolder({
  name: 'keepalived-kill',
  title: (h) => `SIGKILL keepalived on the VIP holder ${h} (no goodbye advert)`,
  fault: ['kill -9 keepalived', 'systemctl kill --signal=SIGKILL keepalived'],
  service: 'keepalived',
  restored: 'keepalived running again',
  twoHolders: 'never',
  planned: false,
});

const haproxyDown = onHolder({
  name: 'haproxy-down',
  title: (h) => `stop haproxy on the VIP holder ${h}: its check must hand the VIP over`,
  fault: ['systemctl stop haproxy', 'systemctl stop haproxy'],
  service: 'haproxy',
  restored: 'haproxy started',
  twoHolders: 'never',
  planned: true,
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
      const t = performance.now();
      // Watch the holder's haproxy until it marks the master down.
      const until = t + MARKED_DOWN_WATCH_MS;
      while (performance.now() < until) {
        const stats = await readHaproxyStats(holderSession(ctx), ctx.inv.haproxy.monitor_port).catch(() => []);
        const row = stats.find((r) => r.backend === 'kube_apiserver' && r.server === ctx.master.name);
        if (row && !row.status.startsWith('UP')) {
          ctx.extra.markedDownMs = performance.now() - t;
          ctx.mark('note', `${ctx.master.name} marked ${row.status} by haproxy on ${ctx.holder.name}`);
          return;
        }
        await sleep(50);
      }
    },
    holdMs: () => 2500,
    restoreText: (ctx) => `${ctx.master.name} reachable again`,
    expectations: (ctx, s) => {
      const down = ctx.extra.markedDownMs;
      return [
        { name: 'no failed request', held: s.failed === 0, detail: `${s.failed} of ${s.sent} requests failed` },
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
    title: (ctx) => `the holder ${ctx.holder.name} and its peers stop hearing each other for ${ctx.partitionSeconds} s (split brain)`,
    ...(caveat ? { caveat } : {}),
    faults: (ctx) => partitionCommands(ctx.inv, ctx.holder),
    injectMs: 0,
    async inject(ctx) {
      ctx.mark('fault', `${ctx.holder.name} cut off from its peers`);
      await onEach(ctx, partitionCommands(ctx.inv, ctx.holder).map((p) => ({ host: p.host, command: p.cut })));
    },
    holdMs: (ctx) => ctx.partitionSeconds * 1000,
    restoreText: (ctx) => `${ctx.holder.name} and its peers hear each other again`,
    expectations: (ctx, s) => [moved(ctx, s), outageWithin(ctx, s, 'partition'), reported(s)],
  };
}

/** How long the failback drill waits for a peer to take the VIP, and then lets it settle. */
const TAKEOVER_WAIT_MS = 10_000;
const SETTLE_MS = 1000;

const failback: Drill = {
  name: 'failback',
  title: (ctx) =>
    `${ctx.holder.name} returns after losing the VIP: ${ctx.inv.keepalived.preempt ? `it takes the VIP back after ${ctx.inv.keepalived.preemptDelay} s` : 'it must stay backup (nopreempt)'}`,
  faults: (ctx) => [serviceFault(ctx.holder.name, 'keepalived')],
  injectMs: TAKEOVER_WAIT_MS + SETTLE_MS,
  async inject(ctx) {
    await on(holderSession(ctx), 'systemctl stop keepalived');
    ctx.progress(`  keepalived stopped on ${ctx.holder.name}, waiting for ${peerText(ctx)} to take the VIP`);
    await peerTakesOver(ctx, TAKEOVER_WAIT_MS);
    await sleep(SETTLE_MS);
    ctx.mark('fault', `keepalived back on ${ctx.holder.name}`);
    await on(holderSession(ctx), 'systemctl start keepalived');
  },
  holdMs: (ctx) => (ctx.inv.keepalived.preempt ? ctx.inv.keepalived.preemptDelay * 1000 + 3000 : 4000),
  restoreText: () => 'end of the return',
  expectations: (ctx, s) => {
    const stays = !ctx.inv.keepalived.preempt;
    const back = s.takeover?.to === ctx.holder.name;
    return [
      stays
        ? { name: `VIP stays on ${peerText(ctx)}`, held: !s.takeover, detail: s.takeover ? `${s.takeover.to} took it` : 'no move' }
        : { name: `VIP back on ${ctx.holder.name}`, held: back, detail: back ? `after ${seconds(s.vipMovedMs ?? 0)}` : 'it did not come back' },
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
 * must return with keepalived and haproxy enabled and running, without taking
 * the VIP back (nopreempt) — what a kernel update at night does. While it is
 * down kha cannot see whether it still holds the VIP, so two holders are
 * reported, not judged. Nothing to arm: the host comes back by itself.
 */
const reboot: Drill = {
  name: 'reboot',
  title: (ctx) => `reboot the VIP holder ${ctx.holder.name} and wait for it to return`,
  faults: () => [],
  injectMs: 0,
  async inject(ctx) {
    ctx.mark('fault', `reboot of ${ctx.holder.name}`);
    // systemctl returns once the reboot is queued; the connection may drop before it answers.
    await holderSession(ctx).exec('systemctl reboot', { timeoutMs: 10_000 }).catch(() => undefined);
  },
  holdMs: (ctx) => Math.max(HOLD_MS, ctx.limits.reboot + 2000),
  async recover(ctx) {
    const t = performance.now();
    await ctx.reconnect(ctx.holder.name, REBOOT_BACK_MS);
    const left = Math.max(10_000, REBOOT_BACK_MS - (performance.now() - t));
    await on(
      holderSession(ctx),
      `for i in $(seq 1 ${Math.ceil(left / 500)}); do systemctl is-active --quiet keepalived && systemctl is-active --quiet haproxy && exit 0; sleep 0.5; done; systemctl is-active keepalived haproxy; exit 1`,
      left + 5000,
    );
    ctx.extra.backAfterMs = performance.now() - t;
    ctx.mark('restore', `${ctx.holder.name} back, keepalived and haproxy running`);
  },
  expectations: (ctx, s) => {
    const back = ctx.extra.backAfterMs;
    const expectations = [moved(ctx, s), outageWithin(ctx, s, 'reboot'), reported(s), ...streamsResumed(s)];
    expectations.push({
      name: `${ctx.holder.name} back with both services`,
      held: typeof back === 'number',
      detail: typeof back === 'number' ? `answering with keepalived and haproxy running ${seconds(back)} after the hold` : 'it did not come back',
    });
    if (!ctx.inv.keepalived.preempt) {
      const retaken = s.finalHolders.includes(ctx.holder.name);
      expectations.push({ name: `VIP stays on ${peerText(ctx)}`, held: !retaken, detail: retaken ? `${ctx.holder.name} holds it at the end` : `held by ${s.finalHolders.join(', ') || 'nobody'} at the end` });
    }
    return expectations;
  },
};

export const DRILLS: readonly Drill[] = [keepalivedStop, keepalivedKill, haproxyDown, backendDown, partitionDrill(), failback, reboot];

/**
 * Outage limits: hosts.yaml's drills.max_outage, else from the timing settings: a graceful stop hands over
 * within about one advert; a silent holder is replaced after three adverts
 * and the skew; a dead haproxy is noticed by the check (interval × fall) and
 * then handed over like a stop.
 */
export function defaultLimits(inv: Inventory): Record<DrillName, number> {
  const advert = inv.keepalived.advertInt * 1000;
  const silent = 3 * advert + advert + 300;
  const check = inv.keepalived.check.interval * inv.keepalived.check.fall * 1000 + advert + 300;
  const derived: Record<DrillName, number> = {
    'keepalived-stop': Math.max(200, advert),
    'keepalived-kill': Math.max(1000, silent),
    'haproxy-down': Math.max(1500, check),
    'backend-down': 0,
    partition: Math.max(1000, silent),
    failback: inv.keepalived.preempt ? Math.max(1000, silent) : 0,
    reboot: Math.max(1000, silent),
  };
  return { ...derived, ...inv.drills.maxOutageMs };
}
