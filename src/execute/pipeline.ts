import type { HostFacts } from '../facts/types.js';
import type { Inventory } from '../inventory/model.js';
import { countChanges, type HostPlan } from '../plan/plan.js';
import { loadPlaybook, type Playbook } from '../playbook/load.js';
import { rolesWith } from '../role/roles.js';
import type { Session } from '../transport/session.js';
import { topologyOf } from '../topology/of.js';
import { closeAll, gatherAll, planAll, preflight } from './apply.js';
import type { ApplyListener, ApplyOutcome } from './events.js';
import { planChange } from './plan-changes.js';
import { DEFAULT_ROLLOUT, executionStages, Interrupted, putBackAll, type RolloutLimits, type RunState } from './runner.js';

// The whole of `kha apply`: connect, facts, preflight, plan, execute, put
// back on a stop, report. It decides and emits events (events.ts); it never
// prints, asks or handles a signal itself: the command passes those in, so
// the same run serves the terminal, CI lines, --json and unit tests.

export interface ApplyRequest {
  inv: Inventory;
  /** Hosts kha may change (--limit). */
  scope: ReadonlySet<string>;
  dryRun: boolean;
  /** How rolling stages (the proxy hosts) go: --parallel, --max-fail; DEFAULT_ROLLOUT when left out. */
  rollout?: RolloutLimits;
  /** One session per host apply converges (the command's SSH, a test's fakes). */
  connect(inv: Inventory): Promise<Map<string, Session>>;
  /**
   * Asked with the hosts that serve and would change, after the plan is
   * shown and while nothing runs; false ends the run with nothing changed.
   */
  approve(serving: readonly string[]): Promise<boolean>;
  /**
   * Listens for requests to stop while changes run, and only then: before,
   * nothing has changed and ending at once is right. Returns how to stop
   * listening.
   */
  listenForStop(stop: () => void): () => void;
  emit: ApplyListener;
}

/** Runs apply and returns how it ended; a failure is thrown (a PreflightError, a HostError) after what it wrote is put back. */
export async function runApplyPipeline(req: ApplyRequest): Promise<ApplyOutcome> {
  const { inv } = req;
  const playbook = loadPlaybook(topologyOf(inv));
  const sessions = await req.connect(inv);
  try {
    const facts = await gatherAll(inv, sessions);
    for (const w of await preflight(inv, facts, sessions, playbook)) await req.emit({ kind: 'preflight-warning', host: w.host, check: w.check, message: w.message });
    const plans = planAll(inv, facts, playbook, req.scope);
    await req.emit({ kind: 'plan-ready', plans, diffs: req.dryRun });
    let outcome: ApplyOutcome;
    if (req.dryRun) outcome = { kind: 'dry-run', plans };
    else if (!(await approved(req, inv, sessions, facts, plans))) outcome = { kind: 'declined' };
    else outcome = await carryOut(req, { inv, sessions, facts, playbook, plans });
    await req.emit({ kind: 'finished', outcome });
    return outcome;
  } finally {
    await closeAll(sessions);
  }
}

/**
 * Hosts that would change while they serve need the operator's yes: a host
 * of the endpoint where keepalived or haproxy runs (as a service or a pod:
 * the topology knows), a node whose local proxy runs.
 */
async function approved(
  req: ApplyRequest,
  inv: Inventory,
  sessions: ReadonlyMap<string, Session>,
  facts: ReadonlyMap<string, HostFacts>,
  plans: readonly HostPlan[],
): Promise<boolean> {
  const roles = rolesWith(topologyOf(inv));
  const changing = plans.filter((p) => countChanges(p).changed > 0).map((p) => p.host);
  const runs = await Promise.all(
    changing.map(async (host) => {
      const own = roles.filter((r) => r.hosts(inv).includes(host));
      const serving = await Promise.all(own.map((r) => r.serving(inv, host, sessions.get(host)!, facts.get(host)!)));
      return serving.includes(true);
    }),
  );
  const serving = changing.filter((_, i) => runs[i]);
  return serving.length === 0 || req.approve(serving);
}

export interface Planned {
  inv: Inventory;
  sessions: ReadonlyMap<string, Session>;
  facts: Map<string, HostFacts>;
  playbook: Playbook;
  /** What was shown before the run. */
  plans: readonly HostPlan[];
}

/** The stages after preflight, in the playbook's order; then what was done against what was shown. */
export async function carryOut(req: Pick<ApplyRequest, 'scope' | 'listenForStop' | 'emit' | 'rollout'>, planned: Planned): Promise<ApplyOutcome> {
  const { inv, plans } = planned;
  const topology = topologyOf(inv);
  const state: RunState = {
    inv,
    topology,
    roles: rolesWith(topology),
    sessions: planned.sessions,
    facts: planned.facts,
    scope: req.scope,
    abort: { requested: false },
    changed: new Map(),
    done: new Map(),
    rollbacks: new Map(),
    rollout: req.rollout ?? DEFAULT_ROLLOUT,
    rollouts: [],
  };
  const nothingPlanned = plans.every((p) => countChanges(p).changed === 0);
  const stopListening = req.listenForStop(() => (state.abort.requested = true));
  try {
    for (const stage of executionStages(state, planned.playbook, nothingPlanned)) {
      await req.emit({ kind: 'stage-started', title: stage.title });
      try {
        await stage.run({
          progress: (text) => void req.emit({ kind: 'progress', text }),
          unchecked: (host, path, reason) => void req.emit({ kind: 'unchecked', host, path, reason }),
          counts: (counts) => void req.emit({ kind: 'rollout-progress', title: stage.title, counts }),
        });
      } catch (error) {
        await req.emit({ kind: 'stage-failed', title: stage.title, error });
        throw error;
      }
      await req.emit({ kind: 'stage-finished', title: stage.title });
    }
  } catch (err) {
    for (const event of await putBackAll(state)) await req.emit(event);
    if (err instanceof Interrupted) return { kind: 'interrupted', host: err.host, after: err.after };
    throw err;
  } finally {
    stopListening();
  }
  for (const p of plans) {
    const change = planChange(p, state.done.get(p.host) ?? []);
    if (change) await req.emit({ kind: 'plan-changed', ...change });
  }
  const endpoint = state.endpoint;
  const hostsOk = state.rollouts.every((r) => r.hosts.every((h) => h.outcome !== 'failed' && h.outcome !== 'not started'));
  const ok = (endpoint === undefined || endpoint.problems.length === 0) && hostsOk;
  return { kind: 'applied', plans, changed: state.changed, endpoint, ...(state.rollouts.length > 0 && { rollouts: state.rollouts }), ok };
}
