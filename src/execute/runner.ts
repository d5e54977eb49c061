import { gatherFacts } from '../facts/gather.js';
import type { HostFacts } from '../facts/types.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import { describeChange, type Change } from '../plan/changes.js';
import { planHost, type HostPlan } from '../plan/plan.js';
import { OPERATOR, type Playbook, type Stage } from '../playbook/load.js';
import type { Session } from '../transport/session.js';
import type { Topology } from '../topology/topology.js';
import type { EndpointCheck } from '../verify/endpoint.js';
import { applyChange, putBackPending, Rollback } from './apply-change.js';
import type { ApplyEvent } from './events.js';

// Runs the stages of a topology's playbook in its order: serial or
// parallel, a gate after each host that changed. Which hosts a stage means
// and what a gate waits for are the topology's words; the pipeline
// (pipeline.ts) turns what this reports into events.

export interface Reporter {
  /** A line of progress within the current stage. */
  progress(text: string): void;
  /** A file went in although its validator could not check it, and why (the summary repeats it). */
  unchecked?(host: string, path: string, reason: string): void;
}

export interface StageRun {
  title: string;
  /** Runs the stage; a stage with nothing to do for the hosts in scope says so through `report`. */
  run(report: Reporter): Promise<void>;
}

export interface RunState {
  inv: Inventory;
  topology: Topology;
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
}

export class Interrupted extends Error {
  constructor(readonly host: string, readonly after: string | undefined) {
    super('interrupted');
  }
}

async function refresh(state: RunState, lb: LoadBalancer): Promise<HostFacts> {
  const facts = await gatherFacts(state.sessions.get(lb.name)!, state.topology.probe(state.inv));
  state.facts.set(lb.name, facts);
  return facts;
}

async function resolveHosts(state: RunState, stage: Stage): Promise<LoadBalancer[]> {
  const set = state.topology.hostSets.get(stage.on);
  const hosts = set ? await set(state) : [];
  return hosts.filter((lb) => state.scope.has(lb.name));
}

async function convergeHost(state: RunState, stage: Stage, lb: LoadBalancer, report: Reporter): Promise<HostPlan> {
  const session = state.sessions.get(lb.name)!;
  const done = state.done.get(lb.name) ?? [];
  state.done.set(lb.name, done);
  // Facts are read again once a stage has changed the host; until then the
  // ones gathered at the start still hold.
  const facts = done.length > 0 ? await refresh(state, lb) : state.facts.get(lb.name)!;
  const plan = planHost(state.inv, lb, facts, stage.tasks ?? [], done);
  const rollback = state.rollbacks.get(lb.name) ?? new Rollback();
  state.rollbacks.set(lb.name, rollback);
  let last: string | undefined;
  for (const t of plan.tasks) {
    for (const c of t.changes) {
      if (state.abort.requested) throw new Interrupted(lb.name, last);
      report.progress(`${lb.name}: ${describeChange(c)}`);
      await applyChange(session, c, rollback, (path, reason) => {
        report.progress(`${lb.name}: ${path} ${reason}`);
        report.unchecked?.(lb.name, path, reason);
      });
      last = describeChange(c);
      state.changed.set(lb.name, (state.changed.get(lb.name) ?? 0) + 1);
      done.push(c);
    }
  }
  return plan;
}

async function passGate(state: RunState, stage: Stage, lb: LoadBalancer, report: Reporter): Promise<void> {
  const gate = stage.then === undefined ? undefined : state.topology.gates.get(stage.then);
  await gate?.(state, lb, (text) => report.progress(text));
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
      const one = async (lb: LoadBalancer) => {
        const plan = await convergeHost(state, stage, lb, report);
        const changes = plan.tasks.flatMap((t) => t.changes);
        // A gate confirms a change; a host that changed nothing, or whose
        // keepalived was stopped to rejoin later, has nothing to confirm yet.
        if (changes.length > 0 && !changes.some((c) => c.kind === 'service.stop')) await passGate(state, stage, lb, report);
      };
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
    if (stage.tasks) return nothingPlanned ? [] : [taskStage(state, stage)];
    if (stage.on === OPERATOR) return [verifyStage(state, stage)];
    return [];
  });
}
