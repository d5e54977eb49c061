import { outputFor, type CliContext } from '../cli.js';
import { InputError } from '../errors.js';
import { closeAll, gatherAll, openSessions, planAll, preflight } from '../execute/apply.js';
import { executionStages, Interrupted, putBackAll, type RunState } from '../execute/runner.js';
import type { Inventory } from '../inventory/model.js';
import { describeChange } from '../plan/changes.js';
import { countChanges } from '../plan/plan.js';
import { loadPlaybook } from '../playbook/load.js';
import { Secret } from '../secret.js';
import { topologyOf } from '../topology/of.js';
import type { PassphrasePrompt } from '../transport/private-key.js';
import { formatEndpoint } from '../ui/endpoint-view.js';
import { formatPlan, inventorySecrets } from '../ui/plan-view.js';
import { INTERRUPT_EXIT, onInterrupt, type InterruptSignal } from './signals.js';
import { progressMode, showStages } from '../ui/stages.js';

export interface ApplyFlags {
  dryRun?: boolean;
  limit?: string[];
  yes?: boolean;
  json?: boolean;
}

// The prompt library is loaded only when a question is asked: most runs ask none.
const passphrasePrompt: PassphrasePrompt = async (file) => {
  const { password } = await import('@inquirer/prompts');
  return new Secret(await password({ message: `Passphrase for ${file}:`, mask: true }), file);
};

/** The apply command once kha runs where it can reach the hosts. */
export async function runApply(inv: Inventory, file: string, flags: ApplyFlags, ctx: CliContext): Promise<void> {
  const out = outputFor(ctx, Boolean(flags.json));
  const interactive = Boolean(process.stdin.isTTY) && !flags.json;
  const scope = new Set(flags.limit ?? inv.lbs.map((lb) => lb.name));
  for (const name of scope) {
    if (!inv.lbs.some((lb) => lb.name === name)) {
      throw new InputError(`--limit ${name}: no load balancer of that name in ${file} (${inv.lbs.map((lb) => lb.name).join(', ')})`);
    }
  }
  const topology = topologyOf(inv);
  const playbook = loadPlaybook(topology);
  const secrets = inventorySecrets(inv);

  const sessions = await openSessions(inv, interactive ? passphrasePrompt : undefined);
  try {
    const facts = await gatherAll(inv, sessions);
    for (const w of await preflight(inv, facts, sessions, playbook)) out.warn(`${w.host} [${w.check}]: ${w.message}`);
    const plans = planAll(inv, facts, playbook, scope);
    const total = plans.reduce((n, p) => n + countChanges(p).changed, 0);
    out.line(formatPlan(inv, plans, { diffs: Boolean(flags.dryRun), secrets }));
    const hostsJson = () =>
      plans.map((p) => ({
        host: p.host,
        ...countChanges(p),
        changes: p.tasks.flatMap((t) => t.changes.map((c) => ({ task: t.task, change: describeChange(c) }))),
      }));
    if (flags.dryRun) {
      out.result({ ok: true, dry_run: true, changes: total, hosts: hostsJson() });
      return;
    }
    const serving = plans.filter((p) => {
      const f = facts.get(p.host)!;
      return countChanges(p).changed > 0 && f.services.some((s) => s.active === 'active');
    });
    if (serving.length > 0 && !flags.yes) {
      const names = serving.map((p) => p.host).join(', ');
      if (!interactive) throw new InputError(`${names} ${serving.length === 1 ? 'is' : 'are'} serving; run with --yes to change ${serving.length === 1 ? 'it' : 'them'} without asking`);
      const { confirm } = await import('@inquirer/prompts');
        if (!(await confirm({ message: `${names} ${serving.length === 1 ? 'is' : 'are'} serving. Apply the changes above?`, default: false }))) {
        out.line('Nothing changed.');
        return ctx.exit(1);
      }
    }

    const state: RunState = { inv, topology, sessions, facts, scope, abort: { requested: false }, changed: new Map(), done: new Map(), rollbacks: new Map() };
    let firstInterrupt = 0;
    let stoppedBy: InterruptSignal = 'SIGINT';
    const stopListening = onInterrupt((signal) => {
      if (state.abort.requested) {
        if (Date.now() - firstInterrupt > 500) process.exit(130);
        return;
      }
      firstInterrupt = Date.now();
      stoppedBy = signal;
      state.abort.requested = true;
      ctx.streams.stderr(`\n${signal}: finishing the current step, then stopping (Ctrl-C again to stop at once)\n`);
    });
    try {
      await showStages(executionStages(state, playbook, total === 0), progressMode(Boolean(flags.json), ctx.env), ctx.streams);
    } catch (err) {
      for (const line of await putBackAll(state)) ctx.streams.stderr(`${line}\n`);
      if (err instanceof Interrupted) {
        ctx.streams.stderr(
          `interrupted on ${err.host}${err.after ? ` after: ${err.after}` : ''}. Every service runs the files on disk; run kha apply again to finish.\n`,
        );
        return ctx.exit(INTERRUPT_EXIT[stoppedBy]);
      }
      throw err;
    } finally {
      stopListening();
    }
    out.line('');
    for (const p of plans) out.line(`${p.host}: ${state.changed.get(p.host) ?? 0} changed, ${countChanges(p).ok} ok`);
    const endpoint = state.endpoint;
    if (endpoint) {
      for (const line of formatEndpoint(inv, endpoint)) out.line(line);
      // On a first build the summary above already says that no apiserver answers, and why that is fine.
      if (!endpoint.firstBuild) for (const w of endpoint.warnings) out.warn(w);
      for (const p of endpoint.problems) out.error(`error: ${p}`);
    }
    const ok = endpoint === undefined || endpoint.problems.length === 0;
    out.result({
      ok,
      dry_run: false,
      hosts: plans.map((p) => ({ host: p.host, changed: state.changed.get(p.host) ?? 0, ok: countChanges(p).ok })),
      endpoint: endpoint ?? null,
    });
    if (!ok) ctx.exit(1);
  } finally {
    await closeAll(sessions);
  }
}
