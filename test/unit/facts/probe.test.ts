import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HostError } from '../../../src/errors.js';
import { gatherFacts, probeCommand } from '../../../src/facts/gather.js';
import { parseProbe } from '../../../src/facts/parse.js';
import { probeScript } from '../../../src/facts/probe.js';
import type { ProbeRequest } from '../../../src/facts/types.js';
import { FakeSession } from '../../../src/transport/fake.js';
import { KHA_REQUEST } from './request.js';

// These run the real script with this machine's sh. It only reads, so it is
// safe anywhere; the hostile names below would create files if any value
// reached the shell unquoted.

const dir = mkdtempSync(join(tmpdir(), 'kha-probe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the SSH server does with the command: hand it to the login shell. */
function runLocally(req: ProbeRequest): string {
  return execFileSync('sh', ['-c', probeCommand(req)], { encoding: 'utf8', timeout: 30_000 });
}

describe('the probe script', () => {
  it('is valid POSIX sh', () => {
    execFileSync('sh', ['-n'], { input: probeScript(KHA_REQUEST) });
  });

  it('only reads: every redirection goes to /dev/null or a descriptor, and no command that changes a host', () => {
    const script = probeScript(KHA_REQUEST);
    const writes = [...script.matchAll(/>+\s*([^\s;)]+)/g)].map((m) => m[1]).filter((t) => t !== '/dev/null' && !t?.startsWith('&'));
    expect(writes).toEqual([]);
    expect(script).not.toMatch(/\b(rm|mv|cp|tee|touch|mkdir|chmod|chown|setsebool|setenforce|sed -i|dd)\b/);
    expect(script).not.toMatch(/--(add|remove|reload|set|new|delete)|sysctl -w|systemctl (start|stop|restart|reload|enable|disable)/);
  });

  it('runs on this machine and parses', () => {
    const facts = parseProbe('local', runLocally(KHA_REQUEST), KHA_REQUEST);
    expect(facts.os.id).not.toBe('');
    expect(Number.isInteger(facts.uid)).toBe(true);
    expect(facts.interfaces.some((i) => i.name === 'lo')).toBe(true);
    expect(facts.files.map((f) => f.path)).toEqual(KHA_REQUEST.files);
  });

  it('quotes every value: a path with a space and quotes reads back, hostile names run nothing', () => {
    const odd = join(dir, `it's a "file" $HOME`);
    writeFileSync(odd, 'global\n  maxconn 100\n');
    chmodSync(odd, 0o640);
    const canary = join(dir, 'pwned');
    const hostile = [`$(touch ${canary})`, `\`touch ${canary}\``, `x; touch ${canary}`, `x' ; touch ${canary}; '`, `x\\' "$(touch ${canary})"`];
    const req: ProbeRequest = {
      vip: `10.77.0.10; touch ${canary}`,
      files: [odd, ...hostile.map((h) => join(dir, h))],
      directories: [dir, ...hostile],
      services: hostile,
      sysctls: hostile,
      selinuxBooleans: hostile,
    };
    const facts = parseProbe('local', runLocally(req), req);
    expect(existsSync(canary)).toBe(false);
    expect(facts.files[0]).toMatchObject({ path: odd, exists: true, mode: 0o640, content: 'global\n  maxconn 100\n' });
    expect(facts.files.slice(1).every((f) => !f.exists)).toBe(true);
    expect(facts.directories.map((d) => d.exists)).toEqual([true, ...hostile.map(() => false)]);
    expect(Object.values(facts.sysctls).every((v) => v === null)).toBe(true);
    expect(facts.routeToVip).toBeNull();
  });

  it('refuses items it could not echo on one header line', () => {
    expect(() => probeScript({ ...KHA_REQUEST, files: ['/etc/a\nb'] })).toThrow(/cannot probe file "\/etc\/a\\nb"/);
    expect(() => probeScript({ ...KHA_REQUEST, services: [''] })).toThrow(/cannot probe service/);
  });
});

describe('gatherFacts', () => {
  const fixture = readFileSync(join(import.meta.dirname, 'fixtures', 'rocky-9.txt'), 'utf8');

  it('runs the whole probe as one inline command and parses what it printed', async () => {
    const session = new FakeSession('lb1', [{ command: /^sh -c '# kha facts probe/, result: { stdout: fixture } }]);
    const facts = await gatherFacts(session, KHA_REQUEST);
    expect(facts).toEqual(parseProbe('lb1', fixture, KHA_REQUEST));
    expect(session.commands()).toEqual([probeCommand(KHA_REQUEST)]);
    session.assertDone();
  });

  it('fails with the host and the shell\'s message when the probe itself fails', async () => {
    const session = new FakeSession('lb2', [{ command: /^sh -c /, result: { code: 2, stderr: 'sh: 1: Syntax error: end of file unexpected\n' } }]);
    const err = await gatherFacts(session, KHA_REQUEST).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostError);
    expect(err).toMatchObject({ host: 'lb2', step: 'facts', message: 'the probe exited with code 2: sh: 1: Syntax error: end of file unexpected' });
  });
});
