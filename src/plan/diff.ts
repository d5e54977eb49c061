import { createTwoFilesPatch } from 'diff';
import type { Secret } from '../secret.js';
import type { Change } from './changes.js';

const REDACTED = '<redacted>';

/** Replaces every secret's value with <redacted>, longest first so no part of one survives. */
export function redact(text: string, secrets: readonly Secret[]): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s.length > 0) out = out.split(s.reveal()).join(REDACTED);
  }
  return out;
}

/**
 * keepalived.conf on a host may hold a password kha was never told (a
 * hand-written config with `auth_pass 1111`), so secret files are also
 * redacted by the keyword, not only by the values kha knows.
 */
function redactSecretFile(text: string, secrets: readonly Secret[]): string {
  return redact(text, secrets).replace(/^(\s*auth_pass\s+)\S+/gm, `$1${REDACTED}`);
}

/** A unified diff of a file change, secrets redacted on both sides. */
export function fileDiff(change: Extract<Change, { kind: 'file.write' }>, secrets: readonly Secret[]): string {
  if (change.modeOnly) return '';
  const clean = change.secret ? (t: string) => redactSecretFile(t, secrets) : (t: string) => redact(t, secrets);
  const before = clean(change.previous ?? '');
  const after = clean(change.content);
  if (before === after) return `--- ${change.path}\n+++ ${change.path}\n(only a secret value changed; not shown)\n`;
  return createTwoFilesPatch(
    change.previous === null ? '/dev/null' : change.path,
    change.path,
    before,
    after,
    change.previous === null ? '' : 'on the host',
    'as kha would write it',
    { context: 3 },
  );
}
