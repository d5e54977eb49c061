// Session over SSH on node-ssh (ssh2): host keys checked against
// known_hosts, every command time-limited, sudo without a pty, and an
// optional jump host.

import { constants } from 'node:os';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { NodeSSH } from 'node-ssh';
import { HostError, KhaError } from '../errors.js';
import { TransportError } from './errors.js';
import { hostKeyCheck, preferredHostKeyAlgorithms, type HostKeyCheck } from './host-key.js';
import { KnownHosts } from './known-hosts.js';
import { expandHome, KeyRing, type LoadedKey, type PassphrasePrompt } from './private-key.js';
import { getCommand, MISSING_FILE_CODE, putCommand } from './remote-file.js';
import type { ExecOptions, ExecResult, PutOptions, Session } from './session.js';
import { elevate, probeSudo, type Elevation, type SudoSetting } from './sudo.js';
import { KILL_AFTER_MS, timeLimited, TIMED_OUT_CODE } from './time-limit.js';

export interface SshTarget {
  /** The inventory name, used in every message. */
  name: string;
  address: string;
  port: number;
  user: string;
  /** `~` is expanded. Without it only the agent is tried. */
  identityFile?: string;
  /** Asked only when the identity file is encrypted. */
  passphrase?: PassphrasePrompt;
  /** Agent socket; defaults to SSH_AUTH_SOCK, `false` never uses an agent. */
  agent?: string | false;
  knownHosts: string;
  sudo: SudoSetting;
  /** Reached through this host (ssh -J). */
  jump?: SshTarget;
  /** TCP connect, handshake and authentication together. */
  connectTimeoutMs?: number;
  /** Default time limit of a command; ExecOptions.timeoutMs overrides it. */
  commandTimeoutMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;
// A host that vanishes mid-command (power off, cable) sends no FIN; only
// keepalives notice, after about interval × count.
const KEEPALIVE_INTERVAL_MS = 5_000;
const KEEPALIVE_COUNT_MAX = 3;
// How long past a command's own time limit we wait for its answer before
// giving up on the connection.
const ANSWER_GRACE_MS = 5_000;
// A polite disconnect waits for the peer; a dead host never answers.
const CLOSE_GRACE_MS = 2_000;

export type ConnectResult =
  | { target: SshTarget; session: Session; error?: undefined }
  | { target: SshTarget; session?: undefined; error: KhaError };

export function connect(target: SshTarget): Promise<Session> {
  return open(target, new KeyRing());
}

/**
 * Opens every target in parallel and reports each one's outcome, so the
 * operator sees all unreachable hosts at once. Identity files are loaded
 * one after another first: passphrase prompts must never overlap.
 */
export async function connectAll(targets: readonly SshTarget[]): Promise<ConnectResult[]> {
  const keys = new KeyRing();
  for (const target of targets) {
    for (let hop: SshTarget | undefined = target; hop; hop = hop.jump) {
      // A failure is reported by every connection that needs this key.
      if (hop.identityFile) await keys.load(hop.identityFile, hop.passphrase).catch(() => undefined);
    }
  }
  return Promise.all(
    targets.map(async (target): Promise<ConnectResult> => {
      try {
        return { target, session: await open(target, keys) };
      } catch (err) {
        return { target, error: asKhaError(err, target) };
      }
    }),
  );
}

// ssh2 ships no type declarations, so node-ssh's view of it is untyped:
// these are the parts of it this file relies on.
interface Ssh2Client {
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  end(): void;
  destroy(): void;
}
type Ssh2ConnectError = Error & { level?: string; code?: string };

async function open(target: SshTarget, keys: KeyRing): Promise<SshSession> {
  const known = await KnownHosts.load(expandHome(target.knownHosts));
  const key = target.identityFile ? await keys.load(target.identityFile, target.passphrase) : undefined;
  const agent = target.agent === false ? undefined : (target.agent ?? process.env.SSH_AUTH_SOCK);
  if (!key && !agent) {
    throw new TransportError(target.name, 'connect', `no identity_file for ${target.name} and no SSH agent (SSH_AUTH_SOCK is not set)`);
  }
  const jump = target.jump ? await open(target.jump, keys) : undefined;
  const ssh = new NodeSSH();
  try {
    const sock = jump ? await jump.forward(target) : undefined;
    const check = hostKeyCheck(known, target.name, target.address, target.port);
    await ssh.connect(connectConfig(target, known, check, key, agent, sock)).catch((err: unknown) => {
      throw connectFailure(target, err, check, key, agent, jump);
    });
    const session = new SshSession(target, ssh, jump);
    await session.probeSudo();
    return session;
  } catch (err) {
    ssh.dispose();
    await jump?.close();
    throw err;
  }
}

function connectConfig(
  target: SshTarget,
  known: KnownHosts,
  check: HostKeyCheck,
  key: LoadedKey | undefined,
  agent: string | undefined,
  sock: Readable | undefined,
) {
  const preferred = preferredHostKeyAlgorithms(known.keyTypesFor(target.address, target.port));
  return {
    host: target.address,
    port: target.port,
    username: target.user,
    ...(sock && { sock }),
    ...(key && { privateKey: key.privateKey }),
    ...(key?.passphrase && { passphrase: key.passphrase.reveal() }),
    ...(agent && { agent }),
    readyTimeout: target.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    keepaliveInterval: KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    hostVerifier: (blob: Buffer) => check.verify(blob),
    // ssh2's `prepend` skips names already in its list, so remove them first.
    ...(preferred.length > 0 && { algorithms: { serverHostKey: { remove: preferred, prepend: preferred } } }),
  };
}

function connectFailure(
  target: SshTarget,
  err: unknown,
  check: HostKeyCheck,
  key: LoadedKey | undefined,
  agent: string | undefined,
  jump: SshSession | undefined,
): TransportError {
  const refusal = check.refusal();
  if (refusal) return new TransportError(target.name, 'host key', refusal);
  const e = err as Ssh2ConnectError;
  const endpoint = `${target.address}:${target.port}${jump ? ` through ${jump.host}` : ''}`;
  let message: string;
  if (e.level === 'client-authentication') {
    const tried = [key && `key ${key.path}`, agent && 'the SSH agent'].filter(Boolean).join(' and ');
    message = `authentication as ${target.user} at ${endpoint} failed (tried ${tried}): is the public key in ~${target.user}/.ssh/authorized_keys there?`;
  } else if (e.level === 'client-timeout') {
    message = `no SSH handshake with ${endpoint} within ${target.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS} ms`;
  } else if (e.code === 'ECONNREFUSED') {
    message = `connection refused by ${endpoint}: is sshd running there and is the port right?`;
  } else if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') {
    message = `cannot resolve ${target.address}`;
  } else {
    message = `SSH connection to ${endpoint} failed: ${e.message}`;
  }
  return new TransportError(target.name, 'connect', message, { cause: err });
}

function asKhaError(err: unknown, target: SshTarget): KhaError {
  if (err instanceof KhaError) return err;
  return new TransportError(target.name, 'connect', String(err), { cause: err });
}

interface RawResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

class SshSession implements Session {
  readonly host: string;
  private elevation: Elevation = { kind: 'none' };
  private lost: string | undefined;
  private readonly client: Ssh2Client;
  private readonly closed: Promise<void>;

  constructor(
    private readonly target: SshTarget,
    private readonly ssh: NodeSSH,
    private readonly jump: SshSession | undefined,
  ) {
    this.host = target.name;
    const client = (this.client = ssh.connection as Ssh2Client);
    // After 'ready' node-ssh no longer listens for 'error', and an
    // unhandled 'error' event would crash the whole process.
    client.on('error', (err) => {
      this.lost ??= err.message;
    });
    this.closed = new Promise((resolve) => {
      client.on('close', () => {
        this.lost ??= 'connection closed';
        resolve();
      });
    });
  }

  async probeSudo(): Promise<void> {
    this.elevation = await probeSudo(this.host, this.target.user, this.target.sudo, async (command, stdin) =>
      decode(await this.run(command, stdin, this.defaultTimeout(), command)),
    );
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const stdin = typeof opts.stdin === 'string' ? Buffer.from(opts.stdin) : opts.stdin;
    const raw = await this.runMaybeSudo(command, stdin, opts.sudo, opts.timeoutMs ?? this.defaultTimeout());
    return decode(raw);
  }

  async put(path: string, content: string | Buffer, opts: PutOptions): Promise<void> {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    const result = await this.runMaybeSudo(putCommand(path, opts), data, undefined, this.defaultTimeout(), `put ${path}`);
    if (result.code !== 0) {
      throw new HostError(this.host, `put ${path}`, `writing ${path} failed (exit ${result.code}): ${result.stderr.toString().trim()}`);
    }
  }

  async get(path: string): Promise<Buffer | null> {
    const result = await this.runMaybeSudo(getCommand(path), undefined, undefined, this.defaultTimeout(), `get ${path}`);
    if (result.code === MISSING_FILE_CODE) return null;
    if (result.code !== 0) {
      throw new HostError(this.host, `get ${path}`, `reading ${path} failed (exit ${result.code}): ${result.stderr.toString().trim()}`);
    }
    return result.stdout;
  }

  async close(): Promise<void> {
    // ssh2's destroy() does nothing once end() has run, so a dead peer is
    // destroyed up front and a live one gets a bounded polite goodbye.
    if (this.lost === undefined) this.client.end();
    else this.client.destroy();
    await Promise.race([this.closed, delay(CLOSE_GRACE_MS, undefined, { ref: false })]);
    await this.jump?.close();
  }

  /** A channel to `to` opened from this host, to carry a connection to it. */
  async forward(to: SshTarget): Promise<Readable> {
    try {
      return (await this.ssh.forwardOut('127.0.0.1', 0, to.address, to.port)) as Readable;
    } catch (err) {
      throw new TransportError(
        to.name,
        'connect',
        `cannot reach ${to.address}:${to.port} through jump host ${this.host}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  private defaultTimeout(): number {
    return this.target.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  }

  private runMaybeSudo(
    command: string,
    stdin: Buffer | undefined,
    sudo: boolean | undefined,
    timeoutMs: number,
    label = command,
  ): Promise<RawResult> {
    const how: Elevation = (sudo ?? this.target.sudo !== false) ? this.elevation : { kind: 'none' };
    // The limit goes inside sudo: an unprivileged `timeout` cannot stop root's command.
    const elevated = elevate(timeLimited(command, timeoutMs), stdin, how);
    return this.run(elevated.command, elevated.stdin, timeoutMs, label);
  }

  /**
   * `label` names the command in errors; it is the caller's command, never
   * the elevated one, and stdin (which may carry the sudo password) is never
   * shown. `timeoutMs` is the limit the command was given on the host.
   */
  private run(command: string, stdin: Buffer | undefined, timeoutMs: number, label: string): Promise<RawResult> {
    if (this.lost !== undefined) {
      return Promise.reject(this.failure('exec', `connection lost (${this.lost}); cannot run ${brief(label)}`));
    }
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let done = false;
      const finish = (outcome: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        outcome();
      };
      const timer = setTimeout(() => {
        const message = `no answer within ${Date.now() - started} ms while running ${brief(label)}`;
        finish(() => reject(this.failure('exec', message)));
        // A host that stopped answering one command will not answer the next.
        this.lost ??= message;
        this.client.destroy();
      }, timeoutMs + KILL_AFTER_MS + ANSWER_GRACE_MS);
      this.ssh
        .execCommand(command, {
          ...(stdin && { stdin: Readable.from([stdin]) }),
          // Raw chunks: node-ssh decodes each chunk on its own, which breaks
          // multi-byte characters and binary files, and trims the output.
          onStdout: (chunk) => stdout.push(chunk),
          onStderr: (chunk) => stderr.push(chunk),
        })
        .then(
          ({ code, signal }) =>
            finish(() => {
              // A channel that closes without an exit status lost its connection.
              if (code === null && signal === null) {
                reject(this.failure('exec', `connection lost while running ${brief(label)}${this.lost ? `: ${this.lost}` : ''}`));
              } else if (code === TIMED_OUT_CODE && Date.now() - started >= timeoutMs) {
                reject(this.failure('exec', `timed out after ${timeoutMs} ms and was killed: ${brief(label)}`));
              } else {
                resolve({ code: code ?? signalExitCode(signal), stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) });
              }
            }),
          (err: unknown) => finish(() => reject(this.failure('exec', `cannot run ${brief(label)}: ${(err as Error).message}`))),
        );
    });
  }

  private failure(step: string, message: string): TransportError {
    return new TransportError(this.host, step, message);
  }
}

function decode(raw: RawResult): ExecResult {
  return { code: raw.code, stdout: raw.stdout.toString('utf8'), stderr: raw.stderr.toString('utf8') };
}

/** The shell's convention for a command killed by a signal: 128 + its number. */
function signalExitCode(signal: string | null): number {
  // ssh2 reports signals with their SIG prefix, e.g. SIGKILL.
  const number = signal ? constants.signals[signal as keyof typeof constants.signals] : undefined;
  return 128 + (number ?? 0);
}

function brief(command: string): string {
  const line = command.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}
