import { rolloutCounts, type ApplyListener, type ApplyOutcome } from '../execute/events.js';
import type { PlanChange } from '../execute/plan-changes.js';
import { describeChange } from '../plan/changes.js';
import { countChanges } from '../plan/plan.js';
import { hostCounts, interruptedLine, putBackLine } from './apply-lines.js';
import type { Streams } from './output.js';

// apply under --json: one object on stdout at the end, whatever the end,
// warnings collected into it. What was put back and where a run stopped are
// also said on stderr, for a person watching.

function result(o: Exclude<ApplyOutcome, { kind: 'declined' | 'interrupted' }>, planChanges: readonly PlanChange[]): Record<string, unknown> {
  if (o.kind === 'dry-run') {
    return {
      ok: true,
      dry_run: true,
      changes: o.plans.reduce((n, p) => n + countChanges(p).changed, 0),
      hosts: o.plans.map((p) => ({
        host: p.host,
        ...countChanges(p),
        changes: p.tasks.flatMap((t) => t.changes.map((c) => ({ task: t.task, change: describeChange(c) }))),
      })),
    };
  }
  return {
    ok: o.ok,
    dry_run: false,
    hosts: hostCounts(o),
    endpoint: o.endpoint ?? null,
    ...(o.rollouts && {
      rollouts: o.rollouts.map((r) => {
        const { total, done, failed } = rolloutCounts(r);
        const notStarted = r.hosts.filter((h) => h.outcome === 'not started').map((h) => h.host);
        return { stage: r.stage, max_fail: r.maxFail, total, done, failed, not_started: notStarted, hosts: r.hosts };
      }),
    }),
    ...(planChanges.length > 0 && { plan_changed: planChanges }),
  };
}

export function jsonRenderer(streams: Streams): ApplyListener {
  const warnings: string[] = [];
  const planChanges: PlanChange[] = [];
  return (e) => {
    switch (e.kind) {
      case 'preflight-warning':
        warnings.push(`${e.host} [${e.check}]: ${e.message}`);
        return;
      case 'plan-ready':
      case 'stage-started':
      case 'progress':
      case 'rollout-progress':
      case 'stage-finished':
      case 'stage-failed':
        return;
      case 'unchecked':
        warnings.push(`${e.host}: ${e.path} ${e.reason}`);
        return;
      case 'plan-changed':
        planChanges.push({ host: e.host, added: e.added, dropped: e.dropped });
        return;
      case 'put-back':
      case 'put-back-failed':
        return streams.stderr(`${putBackLine(e)}\n`);
      case 'finished': {
        const o = e.outcome;
        if (o.kind === 'interrupted') {
          streams.stderr(`${interruptedLine(o)}\n`);
          // Every outcome is one object on stdout, a stopped run's too.
          streams.stdout(`${JSON.stringify({ ok: false, interrupted: true, host: o.host, after: o.after ?? null, ...(warnings.length > 0 && { warnings }) }, null, 2)}\n`);
          return;
        }
        // Declining needs a terminal, which --json never asks on.
        if (o.kind === 'declined') return;
        // As for people: on a first build the endpoint's warnings are its expected state.
        if (o.kind === 'applied' && o.endpoint && !o.endpoint.firstBuild) warnings.push(...o.endpoint.warnings);
        const body = result(o, planChanges);
        streams.stdout(`${JSON.stringify(warnings.length > 0 ? { ...body, warnings } : body, null, 2)}\n`);
        return;
      }
    }
  };
}
