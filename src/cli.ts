import { Command, CommanderError } from 'commander';
import { exitCodeOf, formatProblem, HostError, InputError, PreflightError, type ExitCode } from './errors.js';
import { createOutput, processStreams, type Streams } from './ui/output.js';
import { registerValidate } from './commands/validate.js';
import { registerRender } from './commands/render.js';
import { registerSchema } from './commands/schema.js';
import { registerLab } from './commands/lab.js';
import { registerApply } from './commands/apply.js';
import { registerStatus } from './commands/status.js';
import { registerVerifyFailover } from './commands/verify-failover.js';
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

const registrars: CommandRegistrar[] = [registerValidate, registerRender, registerApply, registerVerifyFailover, registerStatus, registerSchema, registerLab];

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
        'Start with: kha validate hosts.yaml; kha apply hosts.yaml --dry-run; kha apply hosts.yaml;\n' +
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

/** Runs kha with argv (as in process.argv) and returns the exit code. */
export async function main(
  argv: readonly string[],
  streams: Streams = processStreams,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ExitCode> {
  let code: ExitCode = 0;
  const ctx: CliContext = { argv, streams, env, exit: (c) => (code = c) };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv as string[]);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; they are successes to users.
      if (err.exitCode === 0) return 0;
      return 2;
    }
    const exit = exitCodeOf(err);
    if (exit === 130) {
      streams.stderr('interrupted\n');
      return 130;
    }
    if (err instanceof InputError) {
      for (const p of err.problems) streams.stderr(`${formatProblem(p)}\n`);
      streams.stderr(`${err.message}\n`);
      return exit;
    }
    if (err instanceof PreflightError) {
      for (const p of err.problems) streams.stderr(`${p.host} [${p.check}]: ${p.message}\n`);
      streams.stderr(`${err.message}\n`);
      return exit;
    }
    if (err instanceof HostError) {
      streams.stderr(`${err.host} [${err.step}]: ${err.message}\n`);
      return exit;
    }
    const message = err instanceof Error ? err.message : String(err);
    streams.stderr(`kha: ${message}\n`);
    if (env.KHA_DEBUG && err instanceof Error && err.stack) streams.stderr(`${err.stack}\n`);
    return exit;
  }
}

/** For commands: a JSON-aware output bound to the CLI's streams. */
export function outputFor(ctx: CliContext, json: boolean) {
  return createOutput(json, ctx.streams);
}
