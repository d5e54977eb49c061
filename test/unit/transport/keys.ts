// Real keys from ssh-keygen, temp dirs and process checks for the transport tests.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestKey {
  type: string;
  /** The `.pub` line: `type base64 comment`. */
  line: string;
  base64: string;
  blob: Buffer;
  /** What `ssh-keygen -lf` prints. */
  fingerprint: string;
  privatePath: string;
  publicPath: string;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `kha-${prefix}-`));
}

export function makeKey(dir: string, name: string, args: string[], passphrase = ''): TestKey {
  const privatePath = join(dir, name);
  execFileSync('ssh-keygen', ['-q', ...args, '-N', passphrase, '-C', name, '-f', privatePath]);
  const publicPath = `${privatePath}.pub`;
  const line = readFileSync(publicPath, 'utf8').trim();
  const [type = '', base64 = ''] = line.split(' ');
  const listed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', publicPath], { encoding: 'utf8' });
  const fingerprint = listed.split(' ')[1] ?? '';
  return { type, line, base64, blob: Buffer.from(base64, 'base64'), fingerprint, privatePath, publicPath };
}

/** A zombie counts as dead: nobody may reap an orphan here soon. */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
