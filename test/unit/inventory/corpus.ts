import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { main } from '../../../src/cli.js';

// Shared by the corpus tests: where the files are, the environment they are
// checked in, and the CLI with captured streams.

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..', '..');
export const badDir = join(here, 'bad');
export const goodDir = join(here, 'good');

/** The environment every file is checked in; its values are secrets too. */
export const CORPUS_ENV: NodeJS.ProcessEnv = {
  KHA_BRACE_PASS: 'pw}x{',
  KHA_CR_SUDO: 'sudo-cr-pw\r',
  KHA_LONG_PASS: 'env-secret-too-long',
  KHA_NEWLINE_PASS: 'vrrp-nl\n',
  KHA_NEWLINE_SUDO: 'sudo-nl-pw\n',
  KHA_SHORT_PASS: 'shortpw',
  KHA_VRRP_PASS: 'vrrp8pw',
  KHA_WIDE_PASS: 'éééééééé',
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

/** A scalar as YAML reads it (`"\"pw"` is `"pw`), or as written when it is no scalar on its own. */
function scalarValue(written: string): string {
  try {
    const value: unknown = parse(written, { logLevel: 'silent' });
    return typeof value === 'string' || typeof value === 'number' ? String(value) : written;
  } catch {
    return written;
  }
}

/**
 * Secret values written literally in a file: whatever follows a secret key
 * and its colon, with or without a space after it (YAML reads
 * `auth_pass:hunter2` as one word, which kha must hide all the same), to the
 * end of the line and, for flow style, to the next , } or ]. env: references
 * name a variable, not a secret; a value of one or two characters would be
 * found in any message.
 */
export function literalSecrets(text: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(/(?:auth_pass|sudo_password)\s*:[ \t]*(.*)$/gim)) {
    const rest = m[1]!.trim();
    for (const written of [rest, rest.split(/[,}\]]/)[0]!.trim()]) {
      const value = scalarValue(written);
      if (value.trim().length >= 3 && !value.startsWith('env:')) found.add(value);
    }
  }
  return [...found];
}
