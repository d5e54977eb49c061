import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preferredHostKeyAlgorithms, refusalMessage } from '../../../src/transport/host-key.js';
import { fingerprint, hostPortName, KnownHosts } from '../../../src/transport/known-hosts.js';
import { makeKey, tempDir, type TestKey } from './keys.js';

let dir: string;
let ed: TestKey;
let ed2: TestKey;
let p256: TestKey;
let p384: TestKey;
let p521: TestKey;
let rsa: TestKey;

beforeAll(() => {
  dir = tempDir('known-hosts');
  ed = makeKey(dir, 'ed', ['-t', 'ed25519']);
  ed2 = makeKey(dir, 'ed2', ['-t', 'ed25519']);
  p256 = makeKey(dir, 'p256', ['-t', 'ecdsa', '-b', '256']);
  p384 = makeKey(dir, 'p384', ['-t', 'ecdsa', '-b', '384']);
  p521 = makeKey(dir, 'p521', ['-t', 'ecdsa', '-b', '521']);
  rsa = makeKey(dir, 'rsa', ['-t', 'rsa', '-b', '2048']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const parse = (...lines: string[]) => KnownHosts.parse(lines.join('\n'), 'kh');
const entry = (hosts: string, key: TestKey, marker = '') => `${marker ? `${marker} ` : ''}${hosts} ${key.type} ${key.base64}`;

describe('fingerprint', () => {
  it('is the SHA256 form ssh-keygen -l prints', () => {
    for (const key of [ed, p256, p384, p521, rsa]) expect(fingerprint(key.blob)).toBe(key.fingerprint);
  });
});

describe('hostPortName', () => {
  it('uses the bare host on port 22 and [host]:port elsewhere, lower-cased', () => {
    expect(hostPortName('LB1.Example', 22)).toBe('lb1.example');
    expect(hostPortName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
  });
});

describe('KnownHosts.check', () => {
  it('matches a plain host line, for every supported key type', () => {
    for (const key of [ed, p256, p384, p521, rsa]) {
      const known = parse('# a comment', '', entry('10.0.0.1', key));
      expect(known.check('10.0.0.1', 22, key.blob)).toEqual({
        kind: 'match',
        presented: { type: key.type, fingerprint: key.fingerprint },
        at: { file: 'kh', line: 3 },
      });
    }
  });

  it('says unknown for a host that no line names', () => {
    const known = parse(entry('10.0.0.1', ed));
    expect(known.check('10.0.0.2', 22, ed.blob)).toMatchObject({ kind: 'unknown', ignoredCertAuthorities: [] });
  });

  it('reports a mismatch with the presented fingerprint and where the expected key is', () => {
    const known = parse('', entry('lb1,10.0.0.1', ed), entry('lb1', p256));
    expect(known.check('10.0.0.1', 22, ed2.blob)).toEqual({
      kind: 'mismatch',
      presented: { type: 'ssh-ed25519', fingerprint: ed2.fingerprint },
      expected: [{ type: 'ssh-ed25519', fingerprint: ed.fingerprint, at: { file: 'kh', line: 2 } }],
    });
    expect(known.check('lb1', 22, rsa.blob)).toMatchObject({
      kind: 'mismatch',
      expected: [{ at: { line: 2 } }, { type: 'ecdsa-sha2-nistp256', at: { line: 3 } }],
    });
  });

  it('accepts any of several keys listed for one host', () => {
    const known = parse(entry('lb1', ed), entry('lb1', rsa), entry('lb1', p384));
    expect(known.check('lb1', 22, rsa.blob)).toMatchObject({ kind: 'match', at: { line: 2 } });
    expect(known.check('lb1', 22, p384.blob)).toMatchObject({ kind: 'match', at: { line: 3 } });
    expect(known.keyTypesFor('lb1', 22)).toEqual(['ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp384']);
  });

  it('matches any name of a comma list, case-insensitively', () => {
    const known = parse(entry('lb1.example.com,LB1,10.0.0.1', ed));
    for (const host of ['lb1.example.com', 'lb1', 'LB1.EXAMPLE.COM', '10.0.0.1']) {
      expect(known.check(host, 22, ed.blob).kind).toBe('match');
    }
    expect(known.check('lb', 22, ed.blob).kind).toBe('unknown');
  });

  it('keeps ports apart: [host]:port for a non-22 port, the bare host only for 22', () => {
    const known = parse(entry('10.0.0.1', ed), entry('[10.0.0.1]:2222', p256));
    expect(known.check('10.0.0.1', 2222, p256.blob)).toMatchObject({ kind: 'match', at: { line: 2 } });
    expect(known.check('10.0.0.1', 2222, ed.blob)).toMatchObject({ kind: 'mismatch', expected: [{ at: { line: 2 } }] });
    expect(known.check('10.0.0.1', 22, p256.blob)).toMatchObject({ kind: 'mismatch', expected: [{ at: { line: 1 } }] });
    expect(known.check('10.0.0.1', 2200, ed.blob).kind).toBe('unknown');
    expect(parse(entry('[10.0.0.1]:22', ed)).check('10.0.0.1', 22, ed.blob).kind).toBe('unknown');
  });

  it('supports * and ? wildcards over the whole name, ports included', () => {
    const known = parse(entry('*.example.com,10.0.0.?', ed), entry('[10.1.*]:*', p256));
    expect(known.check('lb1.example.com', 22, ed.blob).kind).toBe('match');
    expect(known.check('example.com', 22, ed.blob).kind).toBe('unknown');
    expect(known.check('10.0.0.7', 22, ed.blob).kind).toBe('match');
    expect(known.check('10.0.0.17', 22, ed.blob).kind).toBe('unknown');
    expect(known.check('10.1.2.3', 2222, p256.blob).kind).toBe('match');
    expect(known.check('10.1.2.3', 22, p256.blob).kind).toBe('unknown');
    // Regex characters in a pattern are literal.
    expect(parse(entry('a+b', ed)).check('aab', 22, ed.blob).kind).toBe('unknown');
  });

  it('lets a matching !pattern veto its line whatever the order', () => {
    const known = parse(entry('*.example.com,!bad.example.com', ed), entry('!x.example.com,*', p256));
    expect(known.check('good.example.com', 22, ed.blob).kind).toBe('match');
    expect(known.check('bad.example.com', 22, ed.blob)).toMatchObject({ kind: 'mismatch', expected: [{ at: { line: 2 } }] });
    expect(known.check('x.example.com', 22, p256.blob)).toMatchObject({ kind: 'mismatch' });
    // A line of only negations matches nothing.
    expect(parse(entry('!a', ed)).check('b', 22, ed.blob).kind).toBe('unknown');
  });

  it('refuses a @revoked key even when another line lists it for the host', () => {
    const known = parse(entry('lb1', ed), entry('*', ed, '@revoked'), entry('lb1', p256));
    expect(known.check('lb1', 22, ed.blob)).toEqual({
      kind: 'revoked',
      presented: { type: 'ssh-ed25519', fingerprint: ed.fingerprint },
      at: { file: 'kh', line: 2 },
    });
    expect(known.check('lb1', 22, p256.blob).kind).toBe('match');
    // A revoked line alone does not make a host known with that key.
    expect(parse(entry('*', ed, '@revoked')).check('lb2', 22, p256.blob).kind).toBe('unknown');
  });

  it('never trusts @cert-authority lines, and says they were ignored', () => {
    const known = parse(entry('*.example.com', ed, '@cert-authority'));
    expect(known.check('lb1.example.com', 22, ed.blob)).toMatchObject({
      kind: 'unknown',
      ignoredCertAuthorities: [{ file: 'kh', line: 1 }],
    });
    expect(known.keyTypesFor('lb1.example.com', 22)).toEqual([]);
  });

  it('skips malformed lines with a warning and keeps reading', () => {
    const known = KnownHosts.parse(
      [
        '@weird lb1 ssh-ed25519 AAAA',
        'lb1 ssh-ed25519',
        'lb1 ssh-ed25519 not*base64',
        `lb1 ssh-rsa ${ed.base64}`,
        `|1|abc|def ${ed.type} ${ed.base64}`,
        `|2|${'A'.repeat(28)}|${'A'.repeat(28)} ${ed.type} ${ed.base64}`,
        `\t${entry('lb1', ed)} trailing comment\r`,
      ].join('\n'),
      'kh',
    );
    expect(known.warnings.map((w) => w.at.line)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(known.warnings[3]?.message).toMatch(/ssh-rsa does not match the key data \(ssh-ed25519\)/);
    expect(known.check('lb1', 22, ed.blob)).toMatchObject({ kind: 'match', at: { line: 7 } });
  });

  it('treats a missing file as empty: every host unknown', async () => {
    const known = await KnownHosts.load(join(dir, 'no-such-file'));
    expect(known.exists).toBe(false);
    expect(known.check('lb1', 22, ed.blob).kind).toBe('unknown');
  });
});

describe('hashed entries', () => {
  it('matches |1|salt|hmac lines written by ssh-keygen -H, for port 22 and [host]:port', async () => {
    const file = join(dir, 'hashed_known_hosts');
    writeFileSync(file, [entry('lb1.example.com,10.0.0.1', ed), entry('[10.0.0.1]:2222', p521), ''].join('\n'));
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'pipe' });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/10\.0\.0\.1|example/);
    expect(text).toMatch(/^\|1\|/m);

    const known = await KnownHosts.load(file);
    expect(known.warnings).toEqual([]);
    expect(known.check('10.0.0.1', 22, ed.blob).kind).toBe('match');
    expect(known.check('LB1.example.com', 22, ed.blob).kind).toBe('match');
    expect(known.check('10.0.0.1', 2222, p521.blob).kind).toBe('match');
    expect(known.check('10.0.0.1', 2222, ed.blob)).toMatchObject({ kind: 'mismatch', expected: [{ type: p521.type }] });
    expect(known.check('10.0.0.2', 22, ed.blob).kind).toBe('unknown');
    expect(known.keyTypesFor('10.0.0.1', 2222)).toEqual(['ecdsa-sha2-nistp521']);
  });
});

describe('refusal messages', () => {
  it('unknown: names the file, the fingerprint and the ssh-keyscan line to run', () => {
    const known = parse();
    const verdict = known.check('10.0.0.1', 2222, ed.blob);
    if (verdict.kind === 'match') throw new Error('unexpected match');
    expect(refusalMessage(verdict, known, 'lb1', '10.0.0.1', 2222)).toBe(
      `host key for lb1 (10.0.0.1:2222) is not in kh; verify the fingerprint ssh-ed25519 ${ed.fingerprint} ` +
        'and add it with `ssh-keyscan -p 2222 10.0.0.1 >> kh`',
    );
  });

  it('unknown: mentions a missing file and ignored @cert-authority lines', async () => {
    const missing = await KnownHosts.load(join(dir, 'absent'));
    const v1 = missing.check('h', 22, ed.blob);
    if (v1.kind === 'match') throw new Error('unexpected match');
    expect(refusalMessage(v1, missing, 'h', 'h', 22)).toContain('(the file does not exist)');
    const ca = parse(entry('*', p256, '@cert-authority'));
    const v2 = ca.check('h', 22, ed.blob);
    if (v2.kind === 'match') throw new Error('unexpected match');
    expect(refusalMessage(v2, ca, 'h', 'h', 22)).toContain('@cert-authority at kh:1 is not supported by kha and was not trusted');
  });

  it('mismatch: both fingerprints, the file:line and how to remove the old key', () => {
    const known = parse('', entry('[10.0.0.1]:2222', ed));
    const verdict = known.check('10.0.0.1', 2222, ed2.blob);
    if (verdict.kind === 'match') throw new Error('unexpected match');
    const message = refusalMessage(verdict, known, 'lb1', '10.0.0.1', 2222);
    expect(message).toContain(`presented ssh-ed25519 ${ed2.fingerprint}, expected ssh-ed25519 ${ed.fingerprint} at kh:2`);
    expect(message).toContain("ssh-keygen -f kh -R '[10.0.0.1]:2222'");
  });

  it('points at lines it could not read, which may be the ones meant to match', () => {
    const known = parse('garbage', 'more garbage here');
    const verdict = known.check('h', 22, ed.blob);
    if (verdict.kind === 'match') throw new Error('unexpected match');
    expect(refusalMessage(verdict, known, 'h', 'h', 22)).toMatch(
      / \(skipped unreadable line kh:1 and 1 more: expected \[marker\] hostnames keytype base64-key \[comment\]\)$/,
    );
  });

  it('revoked: the key and the line that revokes it', () => {
    const known = parse(entry('*', ed, '@revoked'));
    const verdict = known.check('10.0.0.1', 22, ed.blob);
    if (verdict.kind === 'match') throw new Error('unexpected match');
    expect(refusalMessage(verdict, known, 'lb1', '10.0.0.1', 22)).toBe(
      `host key ssh-ed25519 ${ed.fingerprint} of lb1 (10.0.0.1:22) is revoked in kh:1; refusing to connect`,
    );
  });
});

describe('preferredHostKeyAlgorithms', () => {
  it('maps known key types to the algorithms that present them', () => {
    expect(preferredHostKeyAlgorithms(['ssh-rsa', 'ssh-ed25519', 'sk-ssh-ed25519@openssh.com'])).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ssh-ed25519',
    ]);
  });
});
