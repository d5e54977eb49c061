import type { CliContext } from '../cli.js';
import { InputError, type ExitCode } from '../errors.js';
import { openSessions } from '../execute/apply.js';
import { DEFAULT_ROLLOUT, type RolloutLimits } from '../execute/runner.js';
import { applyTargets } from '../execute/targets.js';
import { hostNames, hostRoles } from '../topology/roles.js';
import type { ApplyOutcome } from '../execute/events.js';
import { runApplyPipeline } from '../execute/pipeline.js';
import type { Inventory } from '../inventory/model.js';
import { Secret } from '../secret.js';
import type { PassphrasePrompt } from '../transport/private-key.js';
import { applyRenderer, applyView } from '../ui/apply-view.js';
import { INTERRUPT_EXIT, onInterrupt, type InterruptSignal } from './signals.js';

export interface ApplyFlags {
  dryRun?: boolean;
  parallel?: string;
  maxFail?: string;
  limit?: string[];
  yes?: boolean;
  json?: boolean;
}

// The prompt library is loaded only when a question is asked: most runs ask none.
const passphrasePrompt: PassphrasePrompt = async (file) => {
  const { password } = await import('@inquirer/prompts');
  return new Secret(await password({ message: `Passphrase for ${file}:`, mask: true }), file);
};

function limitScope(inv: Inventory, file: string, limit: readonly string[] | undefined): Set<string> {
  // The hosts apply converges: load balancers and the hosts that get the local proxy.
  const converged = hostNames(inv).filter((name) => {
    const { lb, proxy } = hostRoles(inv, name);
    return lb !== undefined || proxy !== undefined;
  });
  const scope = new Set(limit ?? converged);
  for (const name of scope) {
    if (!converged.includes(name)) throw new InputError(`--limit ${name}: no host apply converges has that name in ${file} (${converged.join(', ')})`);
  }
  return scope;
}

/** --parallel N (a whole number, at least 1) and --max-fail N or N% (default 0: the first failure stops the rollout). */
export function rolloutLimits(flags: Pick<ApplyFlags, 'parallel' | 'maxFail'>): RolloutLimits {
  const parallel = flags.parallel === undefined ? DEFAULT_ROLLOUT.parallel : Number(flags.parallel);
  if (!/^\d+$/.test(flags.parallel ?? '1') || !Number.isInteger(parallel) || parallel < 1) {
    throw new InputError(`--parallel ${flags.parallel}: a whole number of hosts at a time, at least 1 (default ${DEFAULT_ROLLOUT.parallel})`);
  }
  if (flags.maxFail === undefined) return { parallel, maxFail: DEFAULT_ROLLOUT.maxFail };
  const m = /^(\d+)(%?)$/.exec(flags.maxFail);
  if (!m || (m[2] === '%' && Number(m[1]) > 100)) {
    throw new InputError(`--max-fail ${flags.maxFail}: a number of hosts (0: stop at the first failure) or a percentage up to 100%, e.g. --max-fail 2 or --max-fail 10%`);
  }
  return { parallel, maxFail: m[2] === '%' ? { percent: Number(m[1]) } : { count: Number(m[1]) } };
}

/** Changing hosts that serve needs --yes, or a yes at the terminal; the pipeline asks while nothing runs. */
async function approveServing(serving: readonly string[], flags: ApplyFlags, interactive: boolean): Promise<boolean> {
  if (flags.yes) return true;
  const names = serving.join(', ');
  const one = serving.length === 1;
  if (!interactive) throw new InputError(`${names} ${one ? 'is' : 'are'} serving; run with --yes to change ${one ? 'it' : 'them'} without asking`);
  const { confirm } = await import('@inquirer/prompts');
  return confirm({ message: `${names} ${one ? 'is' : 'are'} serving. Apply the changes above?`, default: false });
}

/**
 * The first signal stops the run after the current step. Another one ends
 * kha at once, unless it comes within half a second: a terminal's Ctrl-C
 * also arrives forwarded from the operator-namespace parent, and that is
 * still the first.
 */
function stopOnSignals(ctx: CliContext, stop: (signal: InterruptSignal) => void): () => void {
  let first = 0;
  return onInterrupt((signal) => {
    if (first > 0) {
      if (Date.now() - first > 500) process.exit(130);
      return;
    }
    first = Date.now();
    ctx.streams.stderr(`\n${signal}: finishing the current step, then stopping (Ctrl-C again to stop at once)\n`);
    stop(signal);
  });
}

function exitCode(outcome: ApplyOutcome, stoppedBy: InterruptSignal): ExitCode {
  switch (outcome.kind) {
    case 'dry-run':
      return 0;
    case 'declined':
      return 1;
    case 'interrupted':
      return INTERRUPT_EXIT[stoppedBy];
    case 'applied':
      return outcome.ok ? 0 : 1;
  }
}

/** The apply command once kha runs where it can reach the hosts. */
export async function runApply(inv: Inventory, file: string, flags: ApplyFlags, ctx: CliContext): Promise<void> {
  const interactive = Boolean(process.stdin.isTTY) && !flags.json;
  const scope = limitScope(inv, file, flags.limit);
  const rollout = rolloutLimits(flags);
  let stoppedBy: InterruptSignal = 'SIGINT';
  const outcome = await runApplyPipeline({
    inv,
    scope,
    dryRun: Boolean(flags.dryRun),
    rollout,
    connect: (i) => {
      const passphrase = interactive ? passphrasePrompt : undefined;
      return openSessions(i, passphrase, applyTargets(i, passphrase));
    },
    approve: (serving) => approveServing(serving, flags, interactive),
    listenForStop: (stop) =>
      stopOnSignals(ctx, (signal) => {
        stoppedBy = signal;
        stop();
      }),
    emit: applyRenderer(applyView(Boolean(flags.json), ctx.env), inv, ctx.streams),
  });
  ctx.exit(exitCode(outcome, stoppedBy));
}
