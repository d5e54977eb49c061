import type { ApplyEvent, ApplyOutcome } from '../execute/events.js';
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
