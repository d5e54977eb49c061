import { describeChange, type Change, type ServiceName } from '../plan/changes.js';
import type { HostPlan } from '../plan/plan.js';

// --dry-run and the plan apply shows come from the facts read at the start;
// each stage then plans again from the host as it is when the stage begins
// (a package's install script may have started its service, someone may have
// edited a file meanwhile). When a change was made that the plan shown did
// not have, apply says so rather than let the shown plan stand for what ran.

export interface PlanChange {
  host: string;
  /** Done, not in the plan shown (as describeChange says them). */
  added: string[];
  /** In the plan shown, not done. */
  dropped: string[];
}

/**
 * What a change is for. Starting a service and reloading it both make it run
 * its new configuration: a package's install script often starts the service
 * on its default one, so a planned start becomes a reload, and saying that
 * the plan changed would only alarm.
 */
function intent(c: Change): string {
  return c.kind === 'service.start' || c.kind === 'service.reload' ? `load ${c.service}` : describeChange(c);
}

/** How `done` (a host's changes in this run, in order) differs from `shown`; undefined when it does not. */
export function planChange(shown: HostPlan, done: readonly Change[]): PlanChange | undefined {
  const expected = shown.tasks.flatMap((t) => t.changes);
  const added: string[] = [];
  const stopped = new Set<ServiceName>();
  for (const c of done) {
    const i = expected.findIndex((e) => intent(e) === intent(c));
    if (i >= 0) expected.splice(i, 1);
    // A backup stopped to change its VRRP group starts again after the
    // holder: the stop in the shown plan says "it rejoins after the holder".
    else if (!(c.kind === 'service.start' && stopped.has(c.service))) added.push(describeChange(c));
    if (c.kind === 'service.stop') stopped.add(c.service);
  }
  // Doing less than shown is not said: a package's install script often
  // enables its service, so "enable at boot" is no longer needed. What must
  // never pass unsaid is a change nobody was shown.
  return added.length > 0 ? { host: shown.host, added, dropped: expected.map(describeChange) } : undefined;
}
