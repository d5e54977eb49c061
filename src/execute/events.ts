import type { HostPlan } from '../plan/plan.js';
import type { EndpointCheck } from '../verify/endpoint.js';
import type { PlanChange } from './plan-changes.js';

// What an apply says while it runs, as data. The pipeline emits these and
// never prints; the terminal (listr2), the plain CI lines and --json are
// renderers of the same events (ui/apply-*.ts). A closed union: a new kind
// of event makes the compiler point at every renderer that must show it.

export type ApplyEvent =
  /** A preflight check could not decide and said why; apply goes on. */
  | { kind: 'preflight-warning'; host: string; check: string; message: string }
  /** Every host's plan, before anything changes; `diffs` for --dry-run. */
  | { kind: 'plan-ready'; plans: readonly HostPlan[]; diffs: boolean }
  | { kind: 'stage-started'; title: string }
  /** A line of progress within the current stage (hosts in a parallel stage interleave). */
  | { kind: 'progress'; text: string }
  | { kind: 'stage-finished'; title: string }
  /** A rolling stage (playbook `parallel: from-flag`) after a host started or ended: counts, not a line per host. */
  | { kind: 'rollout-progress'; title: string; counts: RolloutCounts }
  /** A file went in although its validator could not check it (no container runtime on the host, say): told, not failed. */
  | { kind: 'unchecked'; host: string; path: string; reason: string }
  /** The stage threw `error`; the pipeline puts back and rethrows it. */
  | { kind: 'stage-failed'; title: string; error: unknown }
  /** What a host had done differs from the plan shown at the start (stages plan again from fresh facts). */
  | ({ kind: 'plan-changed' } & PlanChange)
  /** Files written in this run and not loaded, put back after the run stopped. */
  | { kind: 'put-back'; host: string; paths: readonly string[] }
  | { kind: 'put-back-failed'; host: string; reason: string }
  | { kind: 'finished'; outcome: ApplyOutcome };

export type ApplyOutcome =
  | { kind: 'dry-run'; plans: readonly HostPlan[] }
  /** The operator said no to changing hosts that serve: nothing changed. */
  | { kind: 'declined' }
  /** Stopped by a signal between two changes; `after` is the host's last change, if any. */
  | { kind: 'interrupted'; host: string; after: string | undefined }
  | {
      kind: 'applied';
      plans: readonly HostPlan[];
      /** Changes carried out per host. */
      changed: ReadonlyMap<string, number>;
      /** Absent when the playbook has no final check. */
      endpoint: EndpointCheck | undefined;
      /** Every host of each rolling stage, with how it ended; absent when none ran. */
      rollouts?: readonly RolloutReport[];
      /** False when the endpoint check found a problem or a host of a rolling stage failed (exit 1). */
      ok: boolean;
    };

export interface RolloutCounts {
  total: number;
  /** Converged and past the gate. */
  done: number;
  failed: number;
  running: number;
  /** Not started yet; once too many failed, never started. */
  waiting: number;
}

export type RolloutHostOutcome = 'changed' | 'unchanged' | 'failed' | 'not started';

/** A rolling stage as it ended: each host in order, with the error of one that failed. */
export interface RolloutReport {
  stage: string;
  /** Failures allowed before no new host starts (--max-fail, for this many hosts). */
  maxFail: number;
  hosts: { host: string; outcome: RolloutHostOutcome; error?: string }[];
}

/** The counts a rolling stage ended with. */
export function rolloutCounts(r: RolloutReport): RolloutCounts {
  const n = (o: RolloutHostOutcome) => r.hosts.filter((h) => h.outcome === o).length;
  return { total: r.hosts.length, done: n('changed') + n('unchanged'), failed: n('failed'), running: 0, waiting: n('not started') };
}

/**
 * Where events go. Stage boundaries, put-backs and the end are awaited (a
 * terminal view must settle before the summary is printed under it);
 * progress comes from inside running stages and is not.
 */
export type ApplyListener = (event: ApplyEvent) => void | Promise<void>;
