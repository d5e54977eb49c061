import { rolloutCounts, type ApplyEvent, type ApplyOutcome, type RolloutCounts, type RolloutReport } from '../execute/events.js';
import type { PlanChange } from '../execute/plan-changes.js';
import { countChanges } from '../plan/plan.js';

// Lines of an apply that every renderer says the same way: what was put back
// and where a run stopped go to stderr for people even under --json, since a
// host left mid-way must not go unseen.

export function putBackLine(e: Extract<ApplyEvent, { kind: 'put-back' | 'put-back-failed' }>): string {
  return e.kind === 'put-back'
    ? `${e.host}: put back ${e.paths.join(', ')} (written in this run, not loaded yet)`
    : `${e.host}: could not put back files written in this run: ${e.reason}`;
}

export function interruptedLine(o: Extract<ApplyOutcome, { kind: 'interrupted' }>): string {
  return `interrupted on ${o.host}${o.after ? ` after: ${o.after}` : ''}. Every service runs the files on disk; run kha apply again to finish.`;
}

/** Per host: the changes carried out, and the tasks that found nothing to change. */
export function hostCounts(o: Extract<ApplyOutcome, { kind: 'applied' }>): { host: string; changed: number; ok: number }[] {
  return o.plans.map((p) => ({ host: p.host, changed: o.changed.get(p.host) ?? 0, ok: countChanges(p).ok }));
}

export function planChangedLine(c: PlanChange): string {
  const list = (items: readonly string[]) => items.join('; ');
  const what = c.dropped.length === 0 ? `${c.host} also did: ${list(c.added)}` : `${c.host} did: ${list(c.added)}; instead of: ${list(c.dropped)}`;
  return `the plan changed while applying: ${what} (each stage plans again from the host as it is then, and it was not as at the start)`;
}

/** A rolling stage in one line: "12/50 done, 0 failed, 3 running, 35 waiting" (the parts that are not zero, done always). */
export function countsLine(c: RolloutCounts): string {
  const parts = [`${c.done}/${c.total} done`, `${c.failed} failed`];
  if (c.running > 0) parts.push(`${c.running} running`);
  if (c.waiting > 0) parts.push(`${c.waiting} waiting`);
  return parts.join(', ');
}

/**
 * Up to this many hosts, a rolling stage's hosts get a summary line each as
 * the load balancers do; beyond, counts and the hosts that need a look
 * (failed, not started), so fifty nodes do not bury the endpoint's lines.
 */
export const HOST_LINES_MAX = 10;

/** The summary of a rolling stage: its counts, each failed host with why, the hosts never started. */
export function rolloutLines(r: RolloutReport): string[] {
  const c = rolloutCounts(r);
  const lines = [`${r.stage}: ${countsLine(c)}`];
  for (const h of r.hosts) if (h.outcome === 'failed') lines.push(`  ${h.host} failed: ${h.error ?? 'unknown error'}`);
  const notStarted = r.hosts.filter((h) => h.outcome === 'not started').map((h) => h.host);
  if (notStarted.length > 0) {
    lines.push(`  not started (more than --max-fail ${r.maxFail} failed, or stopped): ${notStarted.join(', ')}; run kha apply again once the failure is fixed`);
  }
  return lines;
}

/** The hosts whose summary lines would be too many: those of rolling stages with more than HOST_LINES_MAX hosts. */
export function countedHosts(o: Extract<ApplyOutcome, { kind: 'applied' }>): Set<string> {
  return new Set((o.rollouts ?? []).filter((r) => r.hosts.length > HOST_LINES_MAX).flatMap((r) => r.hosts.map((h) => h.host)));
}
