import { linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostError } from '../../../src/errors.js';
import { applyChange, Rollback } from '../../../src/execute/apply-change.js';
import type { Change } from '../../../src/plan/changes.js';
import { KEEPALIVED_VALIDATE, validateCommand } from '../../../src/render/validators.js';
import { Secret } from '../../../src/secret.js';
import { FakeSession } from '../../../src/transport/fake.js';
import { TransportError } from '../../../src/transport/errors.js';
import { LocalSession } from '../local-session.js';

// Files that may hold the VRRP password are private from their first byte
// and never left behind, whatever ends the step. The commands run for real
// in this machine's shell, on files in a temporary directory.

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kha-secret-files-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

/**
 * A stand-in keepalived first on PATH that behaves like 2.2.7 with
 * script_user (the config test kills itself: exit 143) and records the mode
 * of the retest copy as it reads it; with SLOW set it hangs on the copy, as
 * a config test past its time limit would.
 */
function shimKeepalived(): { path: string; log: string } {
  const bin = join(dir, 'bin');
  const log = join(dir, 'modes.log');
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'keepalived'),
    [
      '#!/bin/sh',
      'case "$1" in --help) echo "  --config-test"; exit 0 ;; esac',
      `case "$3" in *.t) stat -c %a "$3" >> ${log}; [ -n "$SLOW" ] && sleep 30; exit 0 ;; esac`,
      'exit 143',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return { path: `${bin}:${process.env.PATH}`, log };
}

function candidate(): string {
  const file = join(dir, '.kha-new.keepalived.conf');
  writeFileSync(file, 'vrrp_instance VI_1 {\n    authentication {\n        auth_pass hunter22\n    }\n}\n', { mode: 0o600 });
  return file;
}

const leftovers = () => readdirSync(dir).filter((f) => f.endsWith('.t'));

describe("keepalived validator's retest copy", () => {
  it('is 0600 from its first byte under a permissive umask, and removed afterwards', async () => {
    const { path, log } = shimKeepalived();
    const file = candidate();
    const r = await new LocalSession().exec(`umask 022; PATH=${path}; ${validateCommand(KEEPALIVED_VALIDATE, file)}`);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(log, 'utf8').trim()).toBe('600');
    expect(leftovers()).toEqual([]);
  });

  it('is removed when the config test runs past its time limit', async () => {
    const { path, log } = shimKeepalived();
    const file = candidate();
    const r = await new LocalSession().exec(`umask 022; export SLOW=1 PATH=${path}; ${validateCommand(KEEPALIVED_VALIDATE, file)}`, { timeoutMs: 1000 });
    expect(r.code).toBe(124);
    expect(readFileSync(log, 'utf8').trim()).toBe('600');
    expect(leftovers()).toEqual([]);
  });

  it('replaces a readable copy left by an earlier run instead of writing into it', async () => {
    const { path, log } = shimKeepalived();
    const file = candidate();
    writeFileSync(`${file}.t`, 'stale\n', { mode: 0o644 });
    const r = await new LocalSession().exec(`umask 022; PATH=${path}; ${validateCommand(KEEPALIVED_VALIDATE, file)}`);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(log, 'utf8').trim()).toBe('600');
    expect(leftovers()).toEqual([]);
  });
});

function write(path: string, opts: { secret: boolean; mode: number; validate?: string }): Extract<Change, { kind: 'file.write' }> {
  return {
    kind: 'file.write',
    path,
    mode: opts.mode,
    content: 'new\n',
    previous: 'old\n',
    modeOnly: false,
    secret: opts.secret,
    // Not keepalived or haproxy: this machine's own "loaded" markers stay untouched.
    service: 'sysctl',
    ...(opts.validate === undefined ? {} : { validate: opts.validate }),
  };
}

describe('the backup of a replaced file', () => {
  it('of a secret file is 0600 even when the file it copies was 0644, and a stale 0644 backup is replaced, not rewritten', async () => {
    const conf = join(dir, 'keepalived.conf');
    writeFileSync(conf, 'auth_pass 1111\n', { mode: 0o644 });
    writeFileSync(`${conf}.kha-bak`, 'older\n', { mode: 0o644 });
    // Another name for the stale backup, as a reader holding it open would have: rewritten in place, it would show the password.
    linkSync(`${conf}.kha-bak`, join(dir, 'held-open'));
    await applyChange(new LocalSession(), write(conf, { secret: true, mode: 0o600 }), new Rollback());
    expect(modeOf(`${conf}.kha-bak`)).toBe('600');
    expect(readFileSync(join(dir, 'held-open'), 'utf8')).toBe('older\n');
    expect(readFileSync(`${conf}.kha-bak`, 'utf8')).toBe('auth_pass 1111\n');
    expect(modeOf(conf)).toBe('600');
    expect(readFileSync(conf, 'utf8')).toBe('new\n');
  });

  it('of any other file keeps the mode of the file it copies, so putting it back restores that too', async () => {
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, 'global\n', { mode: 0o644 });
    await applyChange(new LocalSession(), write(cfg, { secret: false, mode: 0o644 }), new Rollback());
    expect(modeOf(`${cfg}.kha-bak`)).toBe('644');
  });
});

describe('a validator that fails or hangs', () => {
  it("never prints the password it echoes (keepalived quotes the line it cannot parse)", async () => {
    new Secret('Hunt3r99', 'env:KHA_TEST_SECRET_ECHO');
    const s = new FakeSession('lb1', [
      { command: /^mkdir -p/ },
      { command: /keepalived -t/, result: { code: 1, stderr: "Unmatched quote: 'auth_pass \"Hunt3r99'\nunknown keyword 'Hunt3r99}'" } },
      { command: /^rm -f/ },
    ]);
    const err = (await applyChange(s, write('/etc/keepalived/keepalived.conf', { secret: true, mode: 0o600, validate: KEEPALIVED_VALIDATE }), new Rollback()).catch((e: unknown) => e)) as HostError;
    expect(err).toBeInstanceOf(HostError);
    expect(err.message).not.toContain('Hunt3r99');
    expect(err.message).toContain("Unmatched quote: 'auth_pass \"<redacted>'");
  });

  it('past its time limit still removes the candidate', async () => {
    const s = new FakeSession('lb1', [
      { command: /^mkdir -p/ },
      { command: /keepalived -t/, error: new TransportError('lb1', 'exec', 'timed out after 60 s') },
      { command: "rm -f /etc/keepalived/.kha-new.keepalived.conf" },
    ]);
    await expect(applyChange(s, write('/etc/keepalived/keepalived.conf', { secret: true, mode: 0o600, validate: KEEPALIVED_VALIDATE }), new Rollback())).rejects.toThrow(/timed out/);
    s.assertDone();
  });
});
