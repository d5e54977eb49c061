import { HostError } from '../errors.js';
import { gatherFacts } from '../facts/gather.js';
import type { HostFacts } from '../facts/types.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import { describeChange, type Change } from '../plan/changes.js';
import { planHost, probeRequest, type HostPlan } from '../plan/plan.js';
import type { HostSet, Playbook, Stage } from '../playbook/load.js';
import type { Session } from '../transport/session.js';
import { readSeen, SEEN_PATH, seenAfter } from '../verify/apiservers-seen.js';
import { checkEndpoint, type EndpointCheck } from '../verify/endpoint.js';
import { vipHolders } from '../observe/vip.js';
import { applyChange, putBackPending, Rollback } from './apply-change.js';
import { isBackup, waitForVip } from './gates.js';

// Runs the task stages of a playbook in its order. Every decision about
// order (which hosts, serial or parallel, which gate) is made here, once;
// the UI only shows what this reports.

export interface Reporter {
  /** A line of progress within the current stage. */
  progress(text: string): void;
  /** A host finished a change. */
  changed(host: string, change: Change): void;
}

export interface StageRun {
  title: string;
  /** False when the stage has nothing to do for the hosts in scope. */
  run(report: Reporter): Promise<void>;
}

export interface RunState {
  inv: Inventory;
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
  const facts = await gatherFacts(state.sessions.get(lb.name)!, probeRequest(state.inv));
  state.facts.set(lb.name, facts);
  return facts;
}

async function vipHolder(state: RunState): Promise<LoadBalancer | undefined> {
  return (await vipHolders(state.inv, state.sessions))[0];
}

async function resolveHosts(state: RunState, set: HostSet): Promise<LoadBalancer[]> {
  const lbs = state.inv.lbs;
  let hosts: LoadBalancer[];
  switch (set) {
    case 'lb':
    case 'all':
      hosts = lbs;
      break;
    case 'primary-if-vip-unheld':
      hosts = (await vipHolder(state)) ? [] : lbs.filter((lb) => lb.primary);
      break;
    case 'lb-not-holding-vip': {
      const holder = await vipHolder(state);
      hosts = lbs.filter((lb) => lb !== holder);
      break;
    }
    case 'vip-holder': {
      const holder = await vipHolder(state);
      hosts = holder ? [holder] : [];
      break;
    }
    case 'masters':
    case 'operator':
      hosts = [];
  }
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
      await applyChange(session, c, rollback);
      last = describeChange(c);
      state.changed.set(lb.name, (state.changed.get(lb.name) ?? 0) + 1);
      done.push(c);
      report.changed(lb.name, c);
    }
  }
  return plan;
}

async function passGate(state: RunState, stage: Stage, lb: LoadBalancer, report: Reporter): Promise<void> {
  const session = state.sessions.get(lb.name)!;
  if (stage.then === 'holds-vip') {
    report.progress(`${lb.name}: waiting for the VIP`);
    const ms = await waitForVip(session, state.inv);
    report.progress(`${lb.name}: holds the VIP (${ms} ms)`);
  } else if (stage.then === 'is-backup') {
    report.progress(`${lb.name}: confirming it joined as backup`);
    const holder = await vipHolder(state);
    await isBackup(session, state.inv, holder && holder !== lb ? state.sessions.get(holder.name) : undefined);
  }
}

function taskStage(state: RunState, stage: Stage): StageRun {
  return {
    title: stage.name,
    async run(report) {
      const hosts = await resolveHosts(state, stage.on);
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

/** Every load balancer in scope records which apiservers have answered, so that a later run tells an outage from a cluster still being built. */
async function recordSeen(state: RunState, seen: ReadonlySet<string>, check: EndpointCheck): Promise<void> {
  const content = seenAfter(state.inv, seen, check.masters.filter((m) => m.up).map((m) => m.name));
  const hosts = state.inv.lbs.filter((lb) => state.scope.has(lb.name));
  await Promise.all(
    hosts.map(async (lb) => {
      const now = state.facts.get(lb.name)?.files.find((f) => f.path === SEEN_PATH)?.content ?? '';
      if (now !== content) await state.sessions.get(lb.name)!.put(SEEN_PATH, content, { mode: 0o644, owner: 'root', group: 'root' });
    }),
  );
}

function verifyStage(state: RunState, stage: Stage): StageRun {
  return {
    title: stage.name,
    async run(report) {
      const holder = await vipHolder(state);
      if (!holder) throw new HostError('cluster', 'verify', `no load balancer holds the VIP ${state.inv.vip.address}`);
      report.progress(`asking haproxy on ${holder.name} about every apiserver; requests to https://${state.inv.vip.address}:${state.inv.port}/healthz`);
      const seen = readSeen(state.facts.values());
      const check = await checkEndpoint(state.inv, holder.name, state.sessions.get(holder.name)!, seen);
      state.endpoint = check;
      await recordSeen(state, seen, check);
      for (const m of check.masters) report.progress(`${m.name}: ${m.up ? 'UP' : m.found}`);
      if (!check.listening) throw new HostError(holder.name, stage.name, check.problems[0]!);
    },
  };
}

/** After a run that stopped: every host's written but unloaded files put back; one line per host for people. */
export async function putBackAll(state: RunState): Promise<string[]> {
  const lines: string[] = [];
  for (const [host, rollback] of state.rollbacks) {
    try {
      const paths = await putBackPending(state.sessions.get(host)!, rollback);
      if (paths.length) lines.push(`${host}: put back ${paths.join(', ')} (written in this run, not loaded yet)`);
    } catch (e) {
      lines.push(`${host}: could not put back files written in this run: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return lines;
}

/**
 * The stages after preflight, ready to run in order. With nothing planned
 * anywhere, no task stage can change anything (facts change only through
 * kha's own changes), so only the checks run.
 */
export function executionStages(state: RunState, playbook: Playbook, nothingPlanned: boolean): StageRun[] {
  return playbook.stages.flatMap((stage) => {
    if (stage.tasks) return nothingPlanned ? [] : [taskStage(state, stage)];
    if (stage.on === 'operator') return [verifyStage(state, stage)];
    return [];
  });
}
