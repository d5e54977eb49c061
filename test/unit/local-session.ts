import { spawn } from 'node:child_process';
import { getCommand, MISSING_FILE_CODE, putCommand } from '../../src/transport/remote-file.js';
import type { ExecOptions, ExecResult, PutOptions, Session } from '../../src/transport/session.js';
import { timeLimited } from '../../src/transport/time-limit.js';

/**
 * A Session on this machine's own shell: the exact commands kha sends to a
 * host, run for real (with the same time limit and put/get commands as over
 * SSH), for tests of what they do to files rather than of their order.
 */
export class LocalSession implements Session {
  constructor(readonly host = 'local') {}

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const wrapped = opts.timeoutMs === undefined ? command : timeLimited(command, opts.timeoutMs);
    return new Promise((resolve, reject) => {
      const child = spawn('sh', ['-c', wrapped], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      // A command that does not read its input may be gone before it is written.
      child.stdin.on('error', () => undefined);
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      child.stdin.end(opts.stdin ?? '');
    });
  }

  async put(path: string, content: string | Buffer, opts: PutOptions): Promise<void> {
    const r = await this.exec(putCommand(path, opts), { stdin: content });
    if (r.code !== 0) throw new Error(`put ${path}: ${r.stderr}`);
  }

  async get(path: string): Promise<Buffer | null> {
    const r = await this.exec(getCommand(path));
    return r.code === MISSING_FILE_CODE ? null : Buffer.from(r.stdout);
  }

  async close(): Promise<void> {}
}
