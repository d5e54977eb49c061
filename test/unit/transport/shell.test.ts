import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatMode, getCommand, MISSING_FILE_CODE, putCommand, tempPathFor } from '../../../src/transport/remote-file.js';
import { shellQuote } from '../../../src/shell/quote.js';
import { timeLimited, TIMED_OUT_CODE } from '../../../src/transport/time-limit.js';
import { alive, tempDir } from './keys.js';

/** Runs a command the way sshd does: `sh -c` with stdin. */
function sh(command: string, stdin = ''): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync('sh', ['-c', command], { input: stdin, encoding: 'utf8', stdio: 'pipe' });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

const dir = tempDir('shell');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('shellQuote', () => {
  const nasty = ["it's", 'a b', '$(touch /tmp/pwned)', '`id`', '"q"', '\\n', 'x\ny', '*', '', "''", 'tab\there', '!', '~', '-n', 'é ü'];

  it('gives back every string unchanged through a real shell', () => {
    for (const word of nasty) {
      expect(sh(`printf '%s' ${shellQuote(word)}`).stdout).toBe(word);
    }
  });

  it('leaves plain words readable', () => {
    expect(shellQuote('/etc/haproxy/haproxy.cfg')).toBe('/etc/haproxy/haproxy.cfg');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('')).toBe("''");
  });
});

describe('putCommand', () => {
  it('writes stdin to the path with the mode, through a temp file in the same directory', () => {
    const path = join(dir, 'conf dir', "keep'alived.conf");
    mkdirSync(join(dir, 'conf dir'));
    writeFileSync(path, 'old');
    const content = 'vrrp_instance VI_1 {\n  auth_pass s3cret\n}\n';
    expect(sh(putCommand(path, { mode: 0o600 }), content).code).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe(content);
    expect(statSync(path).mode & 0o7777).toBe(0o600);
    expect(readdirSync(join(dir, 'conf dir'))).toEqual(["keep'alived.conf"]);
  });

  it('sets owner and group', () => {
    const path = join(dir, 'owned');
    expect(sh(putCommand(path, { mode: 0o640, owner: 'nobody', group: 'nogroup' }), 'x').code).toBe(0);
    const uid = Number(sh('id -u nobody').stdout.trim());
    const gid = Number(sh('getent group nogroup | cut -d: -f3').stdout.trim());
    expect(statSync(path)).toMatchObject({ uid, gid });
    expect(putCommand(path, { mode: 0o640, group: 'haproxy' })).toContain('chown :haproxy /');
  });

  it('leaves the old file and no temp file behind when a step fails', () => {
    const path = join(dir, 'kept');
    writeFileSync(path, 'old');
    const result = sh(putCommand(path, { mode: 0o644, owner: 'no-such-user-kha' }), 'new');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/no-such-user-kha/);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir).filter((f) => f.includes('kha-'))).toEqual([]);
  });

  it('refuses a relative path and a bad mode', () => {
    expect(() => putCommand('etc/x', { mode: 0o644 })).toThrow(/absolute/);
    expect(() => formatMode(0o10000)).toThrow(RangeError);
    expect(() => formatMode(1.5)).toThrow(RangeError);
    expect(formatMode(0o755)).toBe('0755');
  });

  it('names the temp file after the target, hidden, in the same directory', () => {
    expect(tempPathFor('/etc/haproxy/haproxy.cfg', 'abc')).toBe('/etc/haproxy/.haproxy.cfg.kha-abc');
    expect(tempPathFor('/etc/a')).toMatch(/^\/etc\/\.a\.kha-[0-9a-f]{12}$/);
  });
});

describe('getCommand', () => {
  it('prints the file, or exits with MISSING_FILE_CODE when it is absent', () => {
    const path = join(dir, 'read me');
    writeFileSync(path, 'line1\nline2\n');
    expect(sh(getCommand(path))).toMatchObject({ code: 0, stdout: 'line1\nline2\n' });
    expect(sh(getCommand(join(dir, 'absent'))).code).toBe(MISSING_FILE_CODE);
    expect(existsSync(join(dir, 'absent'))).toBe(false);
  });

  it('fails with another code when the file cannot be read', () => {
    expect(sh(getCommand(dir)).code).not.toBe(MISSING_FILE_CODE);
  });
});

describe('timeLimited', () => {
  it('passes exit code, output and stdin through', () => {
    expect(sh(timeLimited("cat; echo \"it's\" >&2; exit 3", 5_000), 'in')).toEqual({ code: 3, stdout: 'in', stderr: "it's\n" });
  });

  it('stops the command and its children at the limit, with TIMED_OUT_CODE', () => {
    const pidFile = join(dir, 'limited.pid');
    const started = Date.now();
    const result = sh(timeLimited(`sleep 30 & echo $! > ${pidFile}; wait`, 300));
    expect(result.code).toBe(TIMED_OUT_CODE);
    // Stopped at the limit, not after the 30 s sleep: the bound is loose because a loaded machine (a benchmark on both cores) once took over 5 s.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(alive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });

  it('refuses a limit that timeout would read as none', () => {
    expect(() => timeLimited('true', 0)).toThrow(RangeError);
    expect(timeLimited('true', 1500)).toBe('timeout -k 2 1.5 sh -c true');
  });
});
