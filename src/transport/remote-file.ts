// Shell commands behind Session.put and Session.get. Both go through exec so
// that they work the same with and without sudo (SFTP cannot elevate).

import { posix } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { PutOptions } from './session.js';
import { shellQuote } from '../shell/quote.js';

/** Exit code of the get command when the file is absent; cat never uses it. */
export const MISSING_FILE_CODE = 44;

export function tempPathFor(path: string, suffix = randomBytes(6).toString('hex')): string {
  return posix.join(posix.dirname(path), `.${posix.basename(path)}.kha-${suffix}`);
}

export function formatMode(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new RangeError(`file mode must be between 0 and 0o7777, got ${mode}`);
  }
  return mode.toString(8).padStart(4, '0');
}

/**
 * Reads the content from stdin into a temp file next to `path` and renames
 * it over `path`, so readers see the old file or the new one, never half.
 * umask 077 keeps a secret-bearing file private until its mode is set; the
 * EXIT trap removes the temp file if any step fails (after mv it is gone).
 */
export function putCommand(path: string, opts: PutOptions, tmp = tempPathFor(path)): string {
  if (!posix.isAbsolute(path)) throw new RangeError(`remote path must be absolute: ${path}`);
  const t = shellQuote(tmp);
  const steps = [`cat > ${t}`, `chmod ${formatMode(opts.mode)} ${t}`];
  const owner = `${opts.owner ?? ''}${opts.group !== undefined ? `:${opts.group}` : ''}`;
  if (owner) steps.push(`chown ${shellQuote(owner)} ${t}`);
  steps.push(`mv -f -- ${t} ${shellQuote(path)}`);
  return `trap ${shellQuote(`rm -f -- ${t}`)} EXIT; umask 077; ${steps.join(' && ')}`;
}

export function getCommand(path: string): string {
  const p = shellQuote(path);
  return `if [ -e ${p} ]; then exec cat -- ${p}; else exit ${MISSING_FILE_CODE}; fi`;
}
