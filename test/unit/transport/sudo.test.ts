import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/secret.js';
import { TransportError } from '../../../src/transport/errors.js';
import type { ExecResult } from '../../../src/transport/session.js';
import { elevate, probeSudo, type RawExec } from '../../../src/transport/sudo.js';

const password = new Secret('pa ss\'word', 'env:KHA_SUDO_PASS');

describe('elevate', () => {
  it('leaves the command alone without sudo', () => {
    expect(elevate('id -u', undefined, { kind: 'none' })).toEqual({ command: 'id -u', stdin: undefined });
  });

  it('wraps the whole command in sh -c under sudo -n', () => {
    const stdin = Buffer.from('data');
    expect(elevate("cat > /etc/x && echo 'ok'", stdin, { kind: 'nopasswd' })).toEqual({
      command: `sudo -n -- sh -c 'cat > /etc/x && echo '\\''ok'\\'''`,
      stdin,
    });
  });

  it('sends the password as the first stdin line, never in the command', () => {
    const { command, stdin } = elevate('cat', Buffer.from('payload'), { kind: 'password', password });
    expect(command).toBe("sudo -k -S -p '' -- sh -c cat");
    expect(command).not.toContain('word');
    expect(stdin?.toString()).toBe("pa ss'word\npayload");
    expect(elevate('true', undefined, { kind: 'password', password }).stdin?.toString()).toBe("pa ss'word\n");
  });
});

/** A host whose sudo answers by what it is given. */
function host(rules: { nopasswd: boolean; password?: string }): { run: RawExec; seen: { command: string; stdin?: string }[] } {
  const seen: { command: string; stdin?: string }[] = [];
  const run: RawExec = async (command, stdin) => {
    seen.push({ command, ...(stdin && { stdin: stdin.toString() }) });
    const fail = (stderr: string): ExecResult => ({ code: 1, stdout: '', stderr });
    if (command.startsWith('sudo -n ')) return rules.nopasswd ? { code: 0, stdout: '', stderr: '' } : fail('sudo: a password is required\n');
    const given = stdin?.toString().split('\n')[0];
    if (rules.password !== undefined && given === rules.password) return { code: 0, stdout: '', stderr: '' };
    return fail('Sorry, try again.\nsudo: 1 incorrect password attempt\n');
  };
  return { run, seen };
}

describe('probeSudo', () => {
  it('does nothing when sudo is off', async () => {
    const { run, seen } = host({ nopasswd: true });
    expect(await probeSudo('lb1', 'kha', false, run)).toEqual({ kind: 'none' });
    expect(seen).toEqual([]);
  });

  it('uses sudo -n when the host allows it', async () => {
    const { run } = host({ nopasswd: true });
    expect(await probeSudo('lb1', 'kha', 'nopasswd', run)).toEqual({ kind: 'nopasswd' });
  });

  it('never sends a password to a host that does not ask for one', async () => {
    const { run, seen } = host({ nopasswd: true, password: "pa ss'word" });
    expect(await probeSudo('lb1', 'kha', { password }, run)).toEqual({ kind: 'nopasswd' });
    expect(seen.every((s) => s.stdin === undefined)).toBe(true);
  });

  it('fails at preflight when passwordless sudo is expected but refused', async () => {
    const { run } = host({ nopasswd: false });
    const err = await probeSudo('lb1', 'kha', 'nopasswd', run).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ host: 'lb1', step: 'sudo', exitCode: 1 });
    expect((err as Error).message).toMatch(/sudo -n failed for kha: sudo: a password is required\. Allow kha passwordless sudo/);
  });

  it('uses the password through -S when sudo asks for one', async () => {
    const { run, seen } = host({ nopasswd: false, password: "pa ss'word" });
    expect(await probeSudo('lb1', 'kha', { password }, run)).toEqual({ kind: 'password', password });
    expect(seen[1]).toEqual({ command: "sudo -k -S -p '' -- sh -c true", stdin: "pa ss'word\n" });
  });

  it('reports a rejected password by its source, never its value', async () => {
    const { run } = host({ nopasswd: false, password: 'other' });
    const err = (await probeSudo('lb1', 'kha', { password }, run).catch((e: unknown) => e)) as TransportError;
    expect(err.message).toBe(
      'sudo refused the password (from env:KHA_SUDO_PASS) for kha: Sorry, try again. / sudo: 1 incorrect password attempt',
    );
    expect(JSON.stringify(err)).not.toContain('word');
  });
});
