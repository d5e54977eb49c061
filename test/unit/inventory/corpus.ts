import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../../src/cli.js';

// Shared by the corpus tests: where the files are, the environment they are
// checked in, and the CLI with captured streams.

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..', '..');
export const badDir = join(here, 'bad');
export const goodDir = join(here, 'good');

/** The environment every file is checked in; its values are secrets too. */
export const CORPUS_ENV: NodeJS.ProcessEnv = {
  KHA_LONG_PASS: 'env-secret-too-long',
  KHA_SHORT_PASS: 'shortpw',
  KHA_VRRP_PASS: 'vrrp8pw',
};

export const badFiles = readdirSync(badDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

export type Stage = 'syntax' | 'shape' | 'semantic';

/** The stage a bad file's name declares (syntax-, shape-, semantic-). */
export function stageOf(name: string): Stage {
  const stage = /^(syntax|shape|semantic)-/.exec(name)?.[1];
  if (!stage) throw new Error(`${name}: name must start with syntax-, shape- or semantic-`);
  return stage as Stage;
}

export async function kha(args: string[], env: NodeJS.ProcessEnv = CORPUS_ENV) {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'kha', ...args], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) }, env);
  return { code, stdout, stderr };
}

/** Secret values written literally in a file (env: references name a variable, not a secret). */
export function literalSecrets(text: string): string[] {
  return [...text.matchAll(/^\s*(?:auth_pass|sudo_password):\s*(.+?)\s*$/gm)]
    .map((m) => m[1]!.replace(/^["']|["']$/g, ''))
    .filter((v) => v !== '' && !v.startsWith('env:'));
}
