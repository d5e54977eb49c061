import { gatherFacts } from '../facts/gather.js';
import type { HostFacts } from '../facts/types.js';
import type { Inventory } from '../inventory/model.js';
import { describeChange, type Change } from '../plan/changes.js';
import type { HostPlan } from '../plan/plan.js';
import { FROM_FLAG, OPERATOR, type Playbook, type Stage } from '../playbook/load.js';
import type { Role } from '../role/role.js';
import { probeFor, roleOfHostSet } from '../role/roles.js';
import type { Session } from '../transport/session.js';
import type { Topology } from '../topology/topology.js';
import type { EndpointCheck } from '../verify/endpoint.js';
import { applyChange, putBackPending, Rollback } from './apply-change.js';
import type { ApplyEvent, RolloutCounts, RolloutReport } from './events.js';

// Runs the stages of a topology's playbook in its order: serial, parallel
// or rolling, a gate after each host that changed. Which hosts a stage means,
// what it plans there and what its gate waits for are the words of the role
// that owns its host set (role/role.ts); the pipeline (pipeline.ts) turns
// what this reports into events.

export interface Reporter {
  /** A line of progress within the current stage. */
  progress(text: string): void;
  /** A file went in although its validator could not check it, and why (the summary repeats it). */
  unchecked?(host: string, path: string, reason: string): void;
  /** A rolling stage's counts, after each host starts or ends. */
  counts?(counts: RolloutCounts): void;
}

/** How a rolling stage (playbook `parallel: from-flag`) goes over its hosts: apply's --parallel and --max-fail. */
export interface RolloutLimits {
  /** Hosts converged at once, at least 1. */
  parallel: number;
  /** Failures tolerated before no new host starts: a count, or a percentage of the stage's hosts (rounded down). */
  maxFail: { count: number } | { percent: number };
}

export const DEFAULT_ROLLOUT: RolloutLimits = { parallel: 10, maxFail: { count: 0 } };

export function maxFailures(limits: RolloutLimits, hosts: number): number {
  return 'count' in limits.maxFail ? limits.maxFail.count : Math.floor((limits.maxFail.percent * hosts) / 100);
}

export interface StageRun {
  title: string;
  /** Runs the stage; a stage with nothing to do for the hosts in scope says so through `report`. */
  run(report: Reporter): Promise<void>;
}

export interface RunState {
  inv: Inventory;
  topology: Topology;
  /** The roles of that topology (role/roles.ts rolesWith): who owns each stage. */
  roles: readonly Role[];
  sessions: ReadonlyMap<string, Session>;
  facts: Map<string, HostFacts>;
  /** Hosts kha may change (--limit); all load balancers by default. */
  scope: ReadonlySet<string>;
  /** Set by Ctrl-C; checked between changes, each of which is atomic. */
  abort: { requested: boolean };
  changed: Map<string, number>;
  /** What each host has had done to it so far in this run. */
  done: Map<string, Change[]>;
  /** Files replaced per host in this run: a failed reload in a later stage puts them back. */
  rollbacks: Map<string, Rollback>;
  endpoint?: EndpointCheck;
  rollout: RolloutLimits;
  /** How each rolling stage ended, in order. */
  rollouts: RolloutReport[];
}

export class Interrupted extends Error {
  constructor(readonly host: string, readonly after: string | undefined) {
    super('interrupted');
  }
}

async function refresh(state: RunState, name: string): Promise<HostFacts> {
  const facts = await gatherFacts(state.sessions.get(name)!, probeFor(state.inv, name));
  state.facts.set(name, facts);
  return facts;
}

/** The role that owns a task stage's host set; the loader made sure there is one. */
function stageRole(state: RunState, stage: Stage): Role {
  const role = roleOfHostSet(state.roles, stage.on);
  if (!role) throw new Error(`stage '${stage.name}': no role runs on '${stage.on}'`);
  return role;
}

/** A stage's hosts in scope, decided now (from where the VIP is, say). */
async function resolveHosts(state: RunState, stage: Stage): Promise<string[]> {
  const hosts = await stageRole(state, stage).hostSets.get(stage.on)!(state);
  return hosts.filter((h) => state.scope.has(h));
}

async function convergeHost(state: RunState, stage: Stage, host: string, report: Reporter): Promise<HostPlan> {
  const session = state.sessions.get(host)!;
  const done = state.done.get(host) ?? [];
  state.done.set(host, done);
  // Facts are read again once a stage has changed the host; until then the
  // ones gathered at the start still hold.
  const facts = done.length > 0 ? await refresh(state, host) : state.facts.get(host)!;
  const plan: HostPlan = { host, tasks: stageRole(state, stage).plan(state.inv, host, facts, stage.tasks ?? [], done) };
  const rollback = state.rollbacks.get(host) ?? new Rollback();
  state.rollbacks.set(host, rollback);
  let last: string | undefined;
  for (const t of plan.tasks) {
    for (const c of t.changes) {
      if (state.abort.requested) throw new Interrupted(host, last);
      report.progress(`${host}: ${describeChange(c)}`);
      await applyChange(session, c, rollback, (path, reason) => {
        report.progress(`${host}: ${path} ${reason}`);
        report.unchecked?.(host, path, reason);
      });
      last = describeChange(c);
      state.changed.set(host, (state.changed.get(host) ?? 0) + 1);
      done.push(c);
    }
  }
  return plan;
}

async function passGate(state: RunState, stage: Stage, host: string, report: Reporter): Promise<void> {
  if (stage.then === undefined) return;
  await stageRole(state, stage).gates.get(stage.then)!(state, host, (text) => report.progress(text));
  // Confirmed: a stop later in the run leaves this host as it is now, static pods' files included.
  state.rollbacks.get(host)?.commitAll();
}

/** What a host's converge and gate changed: nothing, or something (its gate then confirmed it). */
async function convergeAndGate(state: RunState, stage: Stage, host: string, report: Reporter): Promise<'changed' | 'unchanged'> {
  const plan = await convergeHost(state, stage, host, report);
  const changes = plan.tasks.flatMap((t) => t.changes);
  if (changes.length === 0) return 'unchanged';
  // A gate confirms a change; a host whose keepalived was stopped to rejoin later has nothing to confirm yet.
  if (!leftStopped(changes)) await passGate(state, stage, host, report);
  return 'changed';
}

/** Some service's last start, reload or stop in these changes is a stop (a stop then a start, as for a new unit, leaves it running). */
function leftStopped(changes: readonly Change[]): boolean {
  const last = new Map<string, Change['kind']>();
  for (const c of changes) if (c.kind === 'service.start' || c.kind === 'service.reload' || c.kind === 'service.stop') last.set(c.service, c.kind);
  return [...last.values()].includes('service.stop');
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A rolling stage: --parallel hosts at a time, the next one starting as one
 * ends. A host that fails is put back (what it wrote and did not load) and
 * counted; once more than --max-fail have failed, no new host starts, the
 * running ones finish, and the rest are reported as not started. A stop
 * (Ctrl-C) starts no new host either and ends the run as interrupted.
 */
async function rollout(state: RunState, stage: Stage, hosts: readonly string[], report: Reporter): Promise<void> {
  const maxFail = maxFailures(state.rollout, hosts.length);
  const result: RolloutReport = { stage: stage.name, maxFail, hosts: hosts.map((h) => ({ host: h, outcome: 'not started' })) };
  let next = 0;
  let running = 0;
  const failed = () => result.hosts.filter((h) => h.outcome === 'failed').length;
  const counts = () => {
    const ended = result.hosts.slice(0, next).filter((h) => h.outcome !== 'not started').length;
    report.counts?.({ total: hosts.length, done: ended - failed(), failed: failed(), running, waiting: hosts.length - next });
  };
  const worker = async () => {
    while (next < hosts.length && failed() <= maxFail && !state.abort.requested) {
      const i = next++;
      const host = hosts[i]!;
      running++;
      counts();
      try {
        result.hosts[i]!.outcome = await convergeAndGate(state, stage, host, report);
      } catch (e) {
        if (e instanceof Interrupted) throw e;
        result.hosts[i] = { host, outcome: 'failed', error: message(e) };
        report.progress(`${host}: failed: ${message(e)}`);
        const rollback = state.rollbacks.get(host);
        if (rollback) {
          const paths = await putBackPending(state.sessions.get(host)!, rollback).catch(() => []);
          if (paths.length > 0) report.progress(`${host}: put back ${paths.join(', ')} (written, not loaded)`);
        }
      } finally {
        running--;
        counts();
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(state.rollout.parallel, hosts.length) }, worker));
  state.rollouts.push(result);
  const stopped = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (stopped) throw stopped.reason;
  if (state.abort.requested && next < hosts.length) throw new Interrupted(hosts[next - 1] ?? hosts[0]!, undefined);
}

function taskStage(state: RunState, stage: Stage): StageRun {
  return {
    title: stage.name,
    async run(report) {
      const hosts = await resolveHosts(state, stage);
      if (hosts.length === 0) {
        report.progress('nothing to do here');
        return;
      }
      if (stage.parallel === FROM_FLAG) return rollout(state, stage, hosts, report);
      const one = (host: string) => convergeAndGate(state, stage, host, report);
      const width = stage.serial ?? hosts.length;
      for (let i = 0; i < hosts.length; i += width) {
        const batch = hosts.slice(i, i + width);
        const results = await Promise.allSettled(batch.map(one));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      }
    },
  };
}

function verifyStage(state: RunState, stage: Stage): StageRun {
  return {
    title: stage.name,
    async run(report) {
      for (const name of stage.checks ?? []) {
        state.endpoint = await state.topology.finalChecks.get(name)!(state, stage.name, (text) => report.progress(text));
      }
    },
  };
}

/** After a run that stopped: every host's written but unloaded files put back; what happened on each host that had any. */
export async function putBackAll(state: RunState): Promise<Extract<ApplyEvent, { kind: 'put-back' | 'put-back-failed' }>[]> {
  const events: Extract<ApplyEvent, { kind: 'put-back' | 'put-back-failed' }>[] = [];
  for (const [host, rollback] of state.rollbacks) {
    try {
      const paths = await putBackPending(state.sessions.get(host)!, rollback);
      if (paths.length) events.push({ kind: 'put-back', host, paths });
    } catch (e) {
      events.push({ kind: 'put-back-failed', host, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  return events;
}

/**
 * The stages after preflight, ready to run in order. With nothing planned
 * anywhere, no task stage can change anything (facts change only through
 * kha's own changes), so only the checks run.
 */
export function executionStages(state: RunState, playbook: Playbook, nothingPlanned: boolean): StageRun[] {
  return playbook.stages.flatMap((stage) => {
    // A role no host has (no nodes, say): its stage is never heard of.
    if (stage.tasks && stageRole(state, stage).hosts(state.inv).length === 0) return [];
    if (stage.tasks) return nothingPlanned ? [] : [taskStage(state, stage)];
    if (stage.on === OPERATOR) return [verifyStage(state, stage)];
    return [];
  });
}
