import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HostError } from '../../../src/errors.js';
import { gatherFacts, probeCommand } from '../../../src/facts/gather.js';
import { parseProbe } from '../../../src/facts/parse.js';
import { probeScript } from '../../../src/facts/probe.js';
import type { ProbeRequest } from '../../../src/facts/types.js';
import { FakeSession } from '../../../src/transport/fake.js';
import { elevate } from '../../../src/transport/sudo.js';
import { KHA_REQUEST } from './request.js';

// These run the real script with this machine's sh. It only reads, so it is
// safe anywhere; the hostile names below would create files if any value
// reached the shell unquoted.

const dir = mkdtempSync(join(tmpdir(), 'kha-probe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function hasPasswordlessSudo(): boolean {
  try {
    execFileSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The same, without blocking the event loop (a test serves a port meanwhile). */
async function runLocallyAsync(req: ProbeRequest): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) =>
    execFile('sh', ['-c', probeCommand(req)], { encoding: 'utf8', timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
}

/** What the SSH server does with the command: hand it to the login shell. */
function runLocally(req: ProbeRequest): string {
  return execFileSync('sh', ['-c', probeCommand(req)], { encoding: 'utf8', timeout: 30_000 });
}

describe('the probe script', () => {
  it('is valid POSIX sh', () => {
    execFileSync('sh', ['-n'], { input: probeScript(KHA_REQUEST) });
  });

  it('only reads: every redirection goes to /dev/null, a descriptor or an apiserver connection, and no command that changes a host', () => {
    const script = probeScript(KHA_REQUEST);
    const writes = [...script.matchAll(/>+\s*([^\s;)]+)/g)]
      .map((m) => m[1])
      .filter((t) => t !== '/dev/null' && !t?.startsWith('&') && !t?.startsWith('/dev/tcp/'));
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

  it('reads files of every kind in one pass: contents in order, empty, unreadable, a directory, missing', () => {
    const a = join(dir, 'a.cfg');
    const empty = join(dir, 'empty');
    const b = join(dir, 'b|c.cfg');
    writeFileSync(a, 'alpha\n\n');
    writeFileSync(empty, '');
    writeFileSync(b, 'bêta\nno newline at the end');
    chmodSync(b, 0o600);
    const req: ProbeRequest = { ...KHA_REQUEST, files: [a, join(dir, 'nope'), empty, dir, b] };
    const facts = parseProbe('local', runLocally(req), req);
    expect(facts.files.map((f) => [f.exists, f.mode, f.content])).toEqual([
      [true, 0o644, 'alpha\n\n'],
      [false, null, null],
      [true, 0o644, ''],
      [true, statSync(dir).mode & 0o7777, null],
      [true, 0o600, 'bêta\nno newline at the end'],
    ]);
  });

  it('tells which apiservers accept a connection, all tried at once', async () => {
    const { createServer } = await import('node:net');
    const server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const req: ProbeRequest = {
        ...KHA_REQUEST,
        apiservers: [
          { name: 'up', address: '127.0.0.1', port },
          { name: 'closed', address: '127.0.0.1', port: 1 },
        ],
      };
      expect(parseProbe('local', await runLocallyAsync(req), req).apiserversReachable).toEqual(['up']);
    } finally {
      server.close();
    }
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
      apiservers: hostile.map((name) => ({ name, address: '127.0.0.1', port: 1 })),
    };
    const facts = parseProbe('local', runLocally(req), req);
    expect(existsSync(canary)).toBe(false);
    expect(facts.files[0]).toMatchObject({ path: odd, exists: true, mode: 0o640, content: 'global\n  maxconn 100\n' });
    expect(facts.files.slice(1).every((f) => !f.exists)).toBe(true);
    expect(facts.directories.map((d) => d.exists)).toEqual([true, ...hostile.map(() => false)]);
    expect(Object.values(facts.sysctls).every((v) => v === null)).toBe(true);
    expect(facts.routeToVip).toBeNull();
  });

  it.skipIf(!hasPasswordlessSudo())('runs through the transport\'s sudo elevation (nested sh -c quoting)', () => {
    const { command } = elevate(probeCommand(KHA_REQUEST), undefined, { kind: 'nopasswd' });
    const facts = parseProbe('local', execFileSync('sh', ['-c', command], { encoding: 'utf8', timeout: 30_000 }), KHA_REQUEST);
    expect(facts.uid).toBe(0);
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

describe('the probe script with stub commands first in PATH', () => {
  const log = join(dir, 'firewall-cmd.log');

  function stub(bin: string, name: string, body: string): void {
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }

  function run(bin: string): string {
    return execFileSync('sh', ['-c', probeCommand(KHA_REQUEST)], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
    });
  }

  it('firewalld: lists the zone of the interface holding the VIP, runtime and permanent, and asks nothing else', () => {
    const bin = join(dir, 'bin-firewalld');
    stub(bin, 'ip', `case "$*" in
  "-o route get 10.77.0.10") echo 'local 10.77.0.10 dev lo table local src 10.77.0.10 uid 0 \\    cache <local> ' ;;
  "-o link") echo '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00'
             echo '2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP mode DEFAULT group default qlen 1000\\    link/ether 52:54:00:00:00:01 brd ff:ff:ff:ff:ff:ff' ;;
  "-o -4 addr") echo '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever'
                echo '2: eth0    inet 10.77.0.11/24 brd 10.77.0.255 scope global eth0\\       valid_lft forever preferred_lft forever'
                echo '2: eth0    inet 10.77.0.10/32 scope global eth0\\       valid_lft forever preferred_lft forever' ;;
  *) exit 1 ;;
esac`);
    stub(bin, 'firewall-cmd', `echo "$*" >> '${log}'
case "$*" in
  --get-default-zone) echo public ;;
  --get-zone-of-interface=eth0) echo internal ;;
  "--zone=internal --list-all") printf 'internal (active)\\n  target: default\\n  interfaces: eth0\\n  ports: 6443/tcp 8404/tcp\\n  protocols: \\n  rich rules: \\n\\trule family="ipv4" source address="10.77.0.12" protocol value="vrrp" accept\\n' ;;
  "--permanent --zone=internal --list-all") printf 'internal\\n  target: default\\n  ports: 6443/tcp\\n  protocols: \\n  rich rules: \\n\\trule family="ipv4" source address="10.77.0.12" protocol value="vrrp" accept\\n' ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac`);
    const facts = parseProbe('lb1', run(bin), KHA_REQUEST);
    expect(facts.routeToVip).toBe('eth0');
    const rule = 'rule family="ipv4" source address="10.77.0.12" protocol value="vrrp" accept';
    expect(facts.firewall).toMatchObject({
      backend: 'firewalld',
      active: true,
      firewalld: {
        defaultZone: 'public',
        zone: 'internal',
        ports: ['6443/tcp', '8404/tcp'],
        richRules: [rule],
        protocols: [],
        permanent: { ports: ['6443/tcp'], richRules: [rule], protocols: [] },
      },
    });
    // firewall-cmd is a Python start each time: four calls, no more.
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      '--get-default-zone',
      '--get-zone-of-interface=eth0',
      '--zone=internal --list-all',
      '--permanent --zone=internal --list-all',
    ]);
  });

  it('SELinux and ufw: booleans the policy lacks are left out, ufw status and rules come through', () => {
    const bin = join(dir, 'bin-selinux-ufw');
    stub(bin, 'getenforce', 'echo Enforcing');
    stub(bin, 'getsebool', `case "$1" in
  haproxy_connect_any) echo 'haproxy_connect_any --> off' ;;
  *) echo "getsebool:  Error getting active value for $1" >&2; exit 1 ;;
esac`);
    stub(bin, 'ufw', `case "$*" in
  status) printf 'Status: active\\n\\nTo                         Action      From\\n--                         ------      ----\\n22/tcp                     ALLOW       Anywhere\\n' ;;
  "show added") printf "Added user rules (see 'ufw status' for running firewall):\\nufw allow 22/tcp\\n" ;;
  *) exit 1 ;;
esac`);
    const facts = parseProbe('lb1', run(bin), KHA_REQUEST);
    expect(facts.selinux.booleans).toEqual({ haproxy_connect_any: false });
    expect(facts.selinux.mode).toBe('enforcing');
    expect(facts.firewall).toEqual({ backend: 'ufw', active: true, ufw: { rules: ['ufw allow 22/tcp'] } });
  });
});
