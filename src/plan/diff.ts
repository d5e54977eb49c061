import { createTwoFilesPatch } from 'diff';
import { redactRemote, type Secret } from '../secret.js';
import type { Change } from './changes.js';

/**
 * A unified diff of a file change, secrets redacted on both sides: the values
 * kha knows, and credentials by keyword, since the file on the host may hold
 * a password kha was never told (a hand-written `auth_pass 1111`, an old
 * haproxy.cfg with `stats auth admin:secret`).
 */
export function fileDiff(change: Extract<Change, { kind: 'file.write' }>, secrets: readonly Secret[]): string {
  if (change.modeOnly) return '';
  const clean = (t: string) => redactRemote(t, secrets);
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
