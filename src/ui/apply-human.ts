import type { ApplyEvent, ApplyListener, ApplyOutcome } from '../execute/events.js';
import type { PlanChange } from '../execute/plan-changes.js';
import type { Inventory } from '../inventory/model.js';
import { formatEndpoint } from './endpoint-view.js';
import { countedHosts, hostCounts, interruptedLine, planChangedLine, putBackLine, rolloutLines } from './apply-lines.js';
import type { Streams } from './output.js';
import { formatPlan, inventorySecrets } from './plan-view.js';

// apply for people: the plan, then the stages as a stage view shows them
// (listr2 on a terminal, timestamped lines in CI), then the summary. Results
// go to stdout, warnings and errors to stderr.

export type StageEvent = Extract<ApplyEvent, { kind: 'stage-started' | 'progress' | 'rollout-progress' | 'stage-finished' | 'stage-failed' }>;
export type StageView = (event: StageEvent) => void | Promise<void>;

function stamp(): string {
  return new Date().toISOString().slice(11, 23);
}

/** Stages as lines with the time of day: what a CI log keeps. */
export function plainStages(streams: Streams): StageView {
  return (e) => {
    if (e.kind === 'stage-started') streams.stdout(`${stamp()} == ${e.title}\n`);
    else if (e.kind === 'progress') streams.stdout(`${stamp()}    ${e.text}\n`);
    // A rolling stage's hosts each say their lines; its counts are in the summary.
    // The end of a stage is the start of the next; a failure is said by the error kha ends on.
  };
}

export function humanRenderer(inv: Inventory, streams: Streams, stages: StageView): ApplyListener {
  const say = (text: string) => streams.stdout(`${text}\n`);
  const complain = (text: string) => streams.stderr(`${text}\n`);
  const planChanges: PlanChange[] = [];
  // Said during a stage (a progress line) and again under the summary, where
  // a stage view that redraws cannot hide it.
  const unchecked: string[] = [];

  const summarise = (o: ApplyOutcome): void => {
    for (const u of unchecked) complain(`warning: ${u}`);
    switch (o.kind) {
      case 'dry-run':
        return;
      case 'declined':
        return say('Nothing changed.');
      case 'interrupted':
        return complain(interruptedLine(o));
      case 'applied': {
        say('');
        const counted = countedHosts(o);
        for (const h of hostCounts(o)) if (!counted.has(h.host)) say(`${h.host}: ${h.changed} changed, ${h.ok} ok`);
        for (const r of o.rollouts ?? []) for (const line of rolloutLines(r)) say(line);
        for (const c of planChanges) say(planChangedLine(c));
        if (!o.endpoint) return;
        for (const line of formatEndpoint(inv, o.endpoint)) say(line);
        // On a first build the summary above already says that no apiserver answers, and why that is fine.
        if (!o.endpoint.firstBuild) for (const w of o.endpoint.warnings) complain(`warning: ${w}`);
        for (const p of o.endpoint.problems) complain(`error: ${p}`);
        return;
      }
    }
  };

  return (e) => {
    switch (e.kind) {
      case 'preflight-warning':
        return complain(`warning: ${e.host} [${e.check}]: ${e.message}`);
      case 'plan-ready':
        return say(formatPlan(inv, e.plans, { diffs: e.diffs, secrets: inventorySecrets(inv) }));
      case 'stage-started':
      case 'progress':
      case 'rollout-progress':
      case 'stage-finished':
      case 'stage-failed':
        return stages(e);
      case 'plan-changed':
        planChanges.push(e);
        return;
      case 'unchecked':
        unchecked.push(`${e.host}: ${e.path} ${e.reason}`);
        return;
      case 'put-back':
      case 'put-back-failed':
        return complain(putBackLine(e));
      case 'finished':
        return summarise(e.outcome);
    }
  };
}
