import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { main } from '../../src/cli.js';

// kha's whole command line in-process, with what it printed, for the tests
// of one command's inputs and outputs.

export async function runKha(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'kha', ...args], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) }, env);
  return { code, stdout, stderr };
}

/** A directory of the test file's own, made before its tests and removed after them; read it inside tests. */
export function tempDirForFile(prefix: string): { readonly path: string } {
  const holder = { path: '' };
  beforeAll(() => {
    holder.path = mkdtempSync(join(tmpdir(), `kha-${prefix}-`));
  });
  afterAll(() => {
    rmSync(holder.path, { recursive: true, force: true });
  });
  return holder;
}
