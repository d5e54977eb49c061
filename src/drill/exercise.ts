import { randomBytes } from 'node:crypto';
import type { Session } from '../transport/session.js';
import { shellQuote as q } from '../shell/quote.js';
import type { Drill, DrillContext } from './drills.js';
import type { Expectation, Fault } from './types.js';

// The part of a drill that touches the hosts, the same for every drill: arm,
// inject, hold, heal. Before anything breaks, each affected host gets a
// systemd timer that undoes the fault on its own, so a drill restores
// whatever ends it: kha killed, its SSH connection dropped, the operator's
// laptop closed. After the hold kha heals each host, checks that it is whole,
// and only then removes that host's timer; a host it could not heal keeps its
// timer, and kha says so loudly.

/**
 * Added to the hold and to the inject's own waits: long enough that a host's
 * restore never fires during a drill that runs its course, short enough
 * that a host left broken by a killed kha is whole again soon.
 */
const ARM_MARGIN_S = 10;

const COMMAND_TIMEOUT_MS = 30_000;
const CHECK_TIMEOUT_MS = 10_000;

/** A fault whose restore waits on its host. */
interface Armed {
  fault: Fault;
  unit: string;
  /** When the host's timer undoes the fault, on the operator's clock (ms since the epoch). */
  firesAt: number;
}

type HealOutcome = { host: string; ok: true } | { host: string; ok: false; why: string; unit: string; firesAt: number };

/** Where a drill reports while it runs. */
export interface ExerciseIo {
  /** Aborted when the operator (or a signal) asks kha to stop: the hold is cut short. */
  stop: AbortSignal;
  progress(text: string): void;
  /** A host left broken: said at once, where it cannot be missed. */
  alarm(text: string): void;
}

export interface Exercised {
  /** "every host restored", or one unmet expectation per host that was not. */
  restored: Expectation[];
  notRestored: string[];
  failure?: unknown;
}

export async function on(session: Session, command: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<void> {
  const r = await session.exec(command, { timeoutMs });
  if (r.code !== 0) throw new Error(`${session.host}: \`${command}\` failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
}

export function sessionOf(ctx: Pick<DrillContext, 'sessions'>, host: string): Session {
  const session = ctx.sessions.get(host);
  if (!session) throw new Error(`${host}: no SSH session`);
  return session;
}

/**
 * Runs each host's command and waits for every one to settle before
 * reporting a failure: a heal must never race a fault still landing.
 */
export async function onEach(ctx: Pick<DrillContext, 'sessions'>, commands: readonly { host: string; command: string }[]): Promise<void> {
  const settled = await Promise.allSettled(commands.map(async (c) => on(sessionOf(ctx, c.host), c.command)));
  const failed = settled.flatMap((s) => (s.status === 'rejected' ? [message(s.reason)] : []));
  if (failed.length > 0) throw new Error(failed.join('; '));
}

export function sleep(ms: number, stop?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (stop?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      stop?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    stop?.addEventListener('abort', done);
  });
}

/** How long a host waits before undoing the fault itself. */
export function armSeconds(drill: Drill, ctx: DrillContext): number {
  return Math.ceil((drill.injectMs + drill.holdMs(ctx)) / 1000) + ARM_MARGIN_S;
}

/**
 * AccuracySec: systemd may otherwise fire a timer up to a minute late, to
 * batch wakeups. Type=oneshot: starting the unit by hand (the sweep) waits
 * for the heal and reports its failure. RemainAfterElapse=no: once fired,
 * the timer goes away instead of lingering under its name.
 */
export function armCommand(unit: string, seconds: number, heal: string): string {
  return `systemd-run --quiet --unit=${unit} --on-active=${seconds}s --timer-property=AccuracySec=100ms --timer-property=RemainAfterElapse=no --property=Type=oneshot /bin/sh -c ${q(heal)}`;
}

/** Stopped, or already fired and gone: either way nothing is left to fire. */
function disarmCommand(unit: string): string {
  return `systemctl stop ${unit}.timer 2>/dev/null; ! systemctl is-active --quiet ${unit}.timer`;
}

/** One name per drill run, so a timer left by a killed run never blocks the next. */
function unitFor(drill: Drill): string {
  return `kha-drill-${drill.name}-${randomBytes(3).toString('hex')}`;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Arms every fault's restore, or none: when one host refuses, the others are disarmed and nothing breaks. */
async function arm(ctx: DrillContext, faults: readonly Fault[], unit: string, seconds: number): Promise<Armed[]> {
  const settled = await Promise.allSettled(
    faults.map(async (fault): Promise<Armed> => {
      await on(sessionOf(ctx, fault.host), armCommand(unit, seconds, fault.heal));
      return { fault, unit, firesAt: Date.now() + seconds * 1000 };
    }),
  );
  const armed = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const refused = settled.flatMap((s) => (s.status === 'rejected' ? [message(s.reason)] : []));
  if (refused.length === 0) return armed;
  await Promise.allSettled(armed.map(async (a) => on(sessionOf(ctx, a.fault.host), disarmCommand(unit))));
  throw new Error(`the self-restore could not be armed, so nothing was broken: ${refused.join('; ')}`);
}

/** Heal, check, and only then disarm: a host that is not whole keeps its timer. */
async function heal(ctx: DrillContext, armed: Armed): Promise<HealOutcome> {
  const { fault, unit, firesAt } = armed;
  const failed = (why: string): HealOutcome => ({ host: fault.host, ok: false, why, unit, firesAt });
  try {
    const session = sessionOf(ctx, fault.host);
    const healing = await session.exec(fault.heal, { timeoutMs: COMMAND_TIMEOUT_MS });
    if (healing.code !== 0) return failed(`\`${fault.heal}\` failed (exit ${healing.code}): ${(healing.stderr || healing.stdout).trim() || 'no message'}`);
    const check = await session.exec(fault.healed, { timeoutMs: CHECK_TIMEOUT_MS });
    if (check.code !== 0) return failed(`not whole after the heal: ${fault.whole} does not hold`);
    const disarmed = await session.exec(disarmCommand(unit), { timeoutMs: CHECK_TIMEOUT_MS });
    if (disarmed.code !== 0) return failed(`healed, but its timer ${unit}.timer could not be stopped`);
    return { host: fault.host, ok: true };
  } catch (e) {
    return failed(`could not reach it to heal it (${message(e)})`);
  }
}

function clock(epochMs: number): string {
  return new Date(epochMs).toTimeString().slice(0, 8);
}

/** What went wrong on a host, and when its own timer puts it right. */
function notRestored(o: Extract<HealOutcome, { ok: false }>): { host: string; detail: string } {
  const left = Math.max(0, Math.round((o.firesAt - Date.now()) / 1000));
  return { host: o.host, detail: `${o.why}; its own timer (${o.unit}) undoes the fault at about ${clock(o.firesAt)}, in ${left} s` };
}

function restoredExpectations(healed: readonly string[], broken: readonly { host: string; detail: string }[]): Expectation[] {
  if (broken.length > 0) return broken.map((b) => ({ name: `${b.host} restored`, held: false, detail: b.detail }));
  if (healed.length === 0) return [];
  return [{ name: 'every host restored', held: true, detail: `${healed.join(', ')}: healed, checked whole, self-restore removed` }];
}

/**
 * Arm, inject, hold, heal. Never throws: what went wrong is in `failure`,
 * and every host that was armed has been healed or reported.
 */
export async function exercise(drill: Drill, ctx: DrillContext, io: ExerciseIo): Promise<Exercised> {
  if (io.stop.aborted) return { restored: [], notRestored: [], failure: new Error('stopped before the fault') };
  const seconds = armSeconds(drill, ctx);
  let armed: Armed[];
  try {
    armed = await arm(ctx, drill.faults(ctx), unitFor(drill), seconds);
  } catch (e) {
    return { restored: [], notRestored: [], failure: e };
  }
  if (armed.length > 0) io.progress(`  armed on ${armed.map((a) => a.fault.host).join(', ')}: the fault undoes itself after ${seconds} s should kha stop`);
  let failure: unknown;
  try {
    // A signal while the restores were being armed: nothing is broken yet, and nothing will be.
    if (io.stop.aborted) throw new Error('stopped before the fault');
    await drill.inject(ctx);
    io.progress('  fault injected');
    await sleep(drill.holdMs(ctx), io.stop);
  } catch (e) {
    failure = e;
  }
  const text = drill.restoreText?.(ctx);
  if (text !== undefined) ctx.mark('restore', text);
  const outcomes = await Promise.all(armed.map((a) => heal(ctx, a)));
  const broken = outcomes.flatMap((o) => (o.ok ? [] : [notRestored(o)]));
  for (const b of broken) io.alarm(`${b.host} NOT RESTORED: ${b.detail}`);
  try {
    await drill.recover?.(ctx);
  } catch (e) {
    failure ??= e;
  }
  const healed = outcomes.flatMap((o) => (o.ok ? [o.host] : []));
  return { restored: restoredExpectations(healed, broken), notRestored: broken.map((b) => b.host), failure };
}

/**
 * Run before the first drill on each load balancer: a restore still armed
 * was left by a kha that died mid-drill, so it runs now instead of firing
 * during this run's drills; one that failed is reported, then cleared.
 * Services are started before their timers are stopped: a stopped transient
 * timer takes its service with it.
 */
export const SWEEP_COMMAND = [
  `timers=$(systemctl list-units --all --plain --no-legend --type=timer 'kha-drill-*') || exit 1`,
  `for t in $(echo "$timers" | cut -d' ' -f1); do`,
  `  if [ "$(systemctl show -P SubState "$t")" = waiting ]; then echo "ran \${t%.timer}"; systemctl start "\${t%.timer}.service"; fi`,
  `  systemctl stop "$t"`,
  `done`,
  `for s in $(systemctl list-units --all --plain --no-legend --state=failed 'kha-drill-*' | cut -d' ' -f1); do`,
  `  echo "failed $s"; systemctl reset-failed "$s"`,
  `done`,
].join('\n');

export interface Swept {
  /** Restores an interrupted run left armed, run now. */
  ran: string[];
  /** Units whose restore failed: the host may still be broken. */
  failed: string[];
}

export function parseSweep(stdout: string): Swept {
  const words = stdout.split('\n').map((l) => l.trim().split(/\s+/));
  const of = (kind: string) => words.flatMap(([k, unit]) => (k === kind && unit ? [unit] : []));
  return { ran: of('ran'), failed: of('failed') };
}

export async function sweep(session: Session): Promise<Swept> {
  const r = await session.exec(SWEEP_COMMAND, { timeoutMs: COMMAND_TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`${session.host}: clearing the restores of earlier drills failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
  return parseSweep(r.stdout);
}
