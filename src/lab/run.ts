// One way to run a host tool: argv only (never a shell string), a time limit,
// and a failure that names the command and what it printed.
import { spawn } from 'node:child_process';
import { HostError } from '../errors.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolve with the exit code instead of throwing on a non-zero one. */
  allowFail?: boolean;
  /** Names the step in an error ("lab", "rootfs", ...). */
  step?: string;
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs);
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new HostError('localhost', opts.step ?? cmd, `cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const result = { code: code ?? 128, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (timedOut) {
        reject(new HostError('localhost', opts.step ?? cmd, `${cmd} ${args.join(' ')} took longer than ${opts.timeoutMs} ms`));
        return;
      }
      if (result.code !== 0 && !opts.allowFail) {
        const said = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-8).join('\n');
        reject(
          new HostError(
            'localhost',
            opts.step ?? cmd,
            `${cmd} ${args.join(' ')} exited ${signal ?? result.code}${said ? `:\n${said}` : ''}`,
          ),
        );
        return;
      }
      resolve(result);
    });
    if (child.stdin) {
      // A child that exits without reading its input must not crash kha with EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/** `ip netns exec NS cmd...`: how the lab reaches anything on its bridge. */
export function runInNetns(ns: string, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function isoNow(): string {
  return new Date().toISOString();
}
