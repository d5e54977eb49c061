import { Command, CommanderError } from 'commander';
import { exitCodeOf, formatProblem, HostError, InputError, PreflightError, type ExitCode } from './errors.js';
import { redact } from './secret.js';
import { createOutput, processStreams, type Streams } from './ui/output.js';
import { registerValidate } from './commands/validate.js';
import { registerRender } from './commands/render.js';
import { registerSchema } from './commands/schema.js';
import { registerLab } from './commands/lab.js';
import { registerApply } from './commands/apply.js';
import { registerStatus } from './commands/status.js';
import { registerVerifyFailover } from './commands/verify-failover.js';
import { registerKubeadm } from './commands/kubeadm.js';
import { registerExplain } from './commands/explain.js';
import { registerSetup } from './commands/setup.js';
import { VERSION } from './version.js';

/** What every command's action gets besides its own arguments. */
export interface CliContext {
  /** As in process.argv: commands that re-run kha elsewhere pass it on. */
  argv: readonly string[];
  streams: Streams;
  env: NodeJS.ProcessEnv;
  /** Set by a command's action; main() returns it. */
  exit(code: ExitCode): void;
}

export type CommandRegistrar = (program: Command, ctx: CliContext) => void;

const registrars: CommandRegistrar[] = [registerSetup, registerValidate, registerRender, registerApply, registerVerifyFailover, registerStatus, registerKubeadm, registerExplain, registerSchema, registerLab];

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('kha')
    .description(
      'A highly available Kubernetes API endpoint: keepalived holds a virtual IP on the load balancers, ' +
        'haproxy spreads connections over every kube-apiserver. kha installs, configures, starts in a safe order ' +
        'and proves the failover with measured drills.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExit codes: 0 success, 1 a host or a drill failed, 2 bad input or usage.\n' +
        'Start with: kha setup (writes hosts.yaml), or kha validate hosts.yaml; kha apply hosts.yaml --dry-run; kha apply hosts.yaml;\n' +
        'kha verify-failover hosts.yaml --report drills.html. To try it first: kha lab up (as root).',
    )
    .configureOutput({
      writeOut: ctx.streams.stdout,
      writeErr: ctx.streams.stderr,
    })
    .exitOverride();
  for (const register of registrars) register(program, ctx);
  for (const sub of program.commands) {
    sub.exitOverride().configureOutput({ writeOut: ctx.streams.stdout, writeErr: ctx.streams.stderr });
  }
  return program;
}

/** Whether the command line asks for --json (before a `--`, which ends the options). */
function wantsJson(argv: readonly string[]): boolean {
  const args = argv.slice(2);
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
}

/** Every error kha can end on, as lines for people and as one object for --json. */
function describeError(err: unknown, exit: ExitCode): { lines: string[]; json: Record<string, unknown> } {
  const message = err instanceof Error ? err.message : String(err);
  if (exit === 130) return { lines: ['interrupted'], json: { ok: false, interrupted: true, error: 'interrupted' } };
  if (err instanceof InputError) {
    return { lines: [...err.problems.map(formatProblem), err.message], json: { ok: false, error: err.message, errors: err.problems } };
  }
  if (err instanceof PreflightError) {
    return { lines: [...err.problems.map((p) => `${p.host} [${p.check}]: ${p.message}`), err.message], json: { ok: false, error: err.message, preflight: err.problems } };
  }
  if (err instanceof HostError) return { lines: [`${err.host} [${err.step}]: ${message}`], json: { ok: false, error: message, host: err.host, step: err.step } };
  return { lines: [`kha: ${message}`], json: { ok: false, error: message } };
}

/**
 * Runs kha with argv (as in process.argv) and returns the exit code. Every
 * line kha prints passes through here: known secrets are redacted on the
 * way out, whatever printed them (a validator's echo, a remote error).
 */
export async function main(
  argv: readonly string[],
  streams: Streams = processStreams,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ExitCode> {
  let code: ExitCode = 0;
  const safe: Streams = { stdout: (t) => streams.stdout(redact(t)), stderr: (t) => streams.stderr(redact(t)) };
  const ctx: CliContext = { argv, streams: safe, env, exit: (c) => (code = c) };
  const json = wantsJson(argv);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv as string[]);
    return code;
  } catch (err) {
    let exit: ExitCode;
    let described: { lines: string[]; json: Record<string, unknown> };
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; they are successes to users.
      if (err.exitCode === 0) return 0;
      // commander has already said what is wrong, on stderr.
      exit = 2;
      described = { lines: [], json: { ok: false, error: err.message.replace(/^error: /, '') } };
    } else {
      exit = exitCodeOf(err);
      described = describeError(err, exit);
    }
    if (json) safe.stdout(`${JSON.stringify({ ...described.json, exit_code: exit }, null, 2)}\n`);
    else for (const line of described.lines) safe.stderr(`${line}\n`);
    if (env.KHA_DEBUG && err instanceof Error && err.stack && exit === 1) safe.stderr(`${err.stack}\n`);
    return exit;
  }
}

/** For commands: a JSON-aware output bound to the CLI's streams. */
export function outputFor(ctx: CliContext, json: boolean) {
  return createOutput(json, ctx.streams);
}
