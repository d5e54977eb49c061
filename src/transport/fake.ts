// A Session that replays a script instead of reaching a host, for unit tests
// of the code above the transport: facts, tasks, playbooks. It records every
// call so a test can assert what would have been run, and it throws on any
// command the script did not foresee.

import { InternalError } from '../errors.js';
import type { ExecOptions, ExecResult, PutOptions, Session } from './session.js';

export interface ScriptStep {
  /** The exact command, or a pattern it must match. */
  command: string | RegExp;
  /** Defaults: exit 0, empty output. */
  result?: Partial<ExecResult>;
  /** Thrown instead of returning, e.g. a TransportError for a timeout. */
  error?: Error;
}

export type FakeCall =
  | { kind: 'exec'; command: string; stdin: string | undefined; sudo: boolean | undefined }
  | { kind: 'put'; path: string; content: string; mode: number; owner: string | undefined; group: string | undefined }
  | { kind: 'get'; path: string };

export interface FakeFile {
  content: Buffer;
  mode: number;
  owner?: string;
  group?: string;
}

export interface FakeSessionOptions {
  /**
   * `strict` (default): steps must come in script order, which is how tests
   * pin a safe order (validate before swap). `any`: each step may answer
   * once, in any order, for code that runs commands concurrently.
   */
  order?: 'strict' | 'any';
  /** Initial remote files, for get; put writes here too. */
  files?: Record<string, string | Buffer>;
}

export class FakeSession implements Session {
  readonly calls: FakeCall[] = [];
  readonly files = new Map<string, FakeFile>();
  private readonly pending: ScriptStep[];
  private readonly order: 'strict' | 'any';
  private closed = false;

  constructor(
    readonly host: string,
    script: readonly ScriptStep[] = [],
    options: FakeSessionOptions = {},
  ) {
    this.pending = [...script];
    this.order = options.order ?? 'strict';
    for (const [path, content] of Object.entries(options.files ?? {})) {
      this.files.set(path, { content: Buffer.from(content), mode: 0o644 });
    }
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.assertOpen(command);
    const stdin = opts.stdin === undefined ? undefined : opts.stdin.toString();
    this.calls.push({ kind: 'exec', command, stdin, sudo: opts.sudo });
    const step = this.take(command);
    if (step.error) throw step.error;
    return { code: 0, stdout: '', stderr: '', ...step.result };
  }

  async put(path: string, content: string | Buffer, opts: PutOptions): Promise<void> {
    this.assertOpen(`put ${path}`);
    const data = Buffer.from(content);
    this.calls.push({ kind: 'put', path, content: data.toString(), mode: opts.mode, owner: opts.owner, group: opts.group });
    this.files.set(path, { content: data, mode: opts.mode, ...(opts.owner && { owner: opts.owner }), ...(opts.group && { group: opts.group }) });
  }

  async get(path: string): Promise<Buffer | null> {
    this.assertOpen(`get ${path}`);
    this.calls.push({ kind: 'get', path });
    return this.files.get(path)?.content ?? null;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Commands run so far, in order; the usual thing to assert on. */
  commands(): string[] {
    return this.calls.flatMap((c) => (c.kind === 'exec' ? [c.command] : []));
  }

  /** Fails when the script foresaw commands that never ran. */
  assertDone(): void {
    if (this.pending.length > 0) {
      throw new InternalError(
        `fake session ${this.host}: ${this.pending.length} scripted command(s) never ran, next: ${describe(this.pending[0])}`,
      );
    }
  }

  private take(command: string): ScriptStep {
    const candidates = this.order === 'strict' ? this.pending.slice(0, 1) : this.pending;
    const index = candidates.findIndex((s) => matches(s.command, command));
    const step = this.pending[index];
    if (index < 0 || !step) {
      const expected = this.pending.length ? `expected ${describe(this.pending[0])}` : 'the script is finished';
      throw new InternalError(`fake session ${this.host}: unexpected command ${JSON.stringify(command)}; ${expected}`);
    }
    this.pending.splice(index, 1);
    return step;
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new InternalError(`fake session ${this.host}: ${what} after close()`);
  }
}

function matches(expected: string | RegExp, command: string): boolean {
  return typeof expected === 'string' ? expected === command : expected.test(command);
}

function describe(step: ScriptStep | undefined): string {
  if (!step) return 'nothing';
  return typeof step.command === 'string' ? JSON.stringify(step.command) : String(step.command);
}
