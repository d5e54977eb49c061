import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLiveHost } from '../../../src/explain/live.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { packageRoot } from '../../../src/paths.js';
import { TransportError } from '../../../src/transport/errors.js';
import { FakeSession } from '../../../src/transport/fake.js';
import { runKha, tempDirForFile } from '../cli-harness.js';

// `kha explain` through main(), and the live reading behind it.

const example = join(packageRoot, 'examples', 'hosts.yaml');

const tmp = tempDirForFile('explain');

const kha = (...args: string[]) => runKha(args, { PW: 'Kub3pw' });

describe('kha explain', () => {
  it('--offline explains examples/hosts.yaml without SSH', async () => {
    const r = await kha('explain', example, '--offline');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('VIP 10.77.0.10:6443 on 2 load balancers: VRRPv3, adverts every 0.1 s, unicast, nopreempt.');
    expect(r.stdout).toContain('lb1 is the primary: priority 150, the highest');
    expect(r.stdout).not.toContain('Right now');
  });

  it('--offline --json: one object, the explanation without a live part', async () => {
    const r = await kha('explain', example, '--offline', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(j).sort()).toEqual(
      ['alternative', 'apiserverOutS', 'faults', 'held', 'holder', 'hosts', 'ok', 'primary', 'successor', 'traffic', 'vip', 'vrrp'].sort(),
    );
    expect(j).toMatchObject({ ok: true, vip: '10.77.0.10:6443', primary: 'lb1', holder: 'lb1', successor: 'lb2', held: {} });
    expect(j.faults).toEqual(
      expect.arrayContaining([
        { kind: 'holder-silent', holderAfter: 'lb2', vipMovedS: 0.345312, drills: [{ name: 'keepalived-kill', maxOutageS: 1 }, { name: 'partition', maxOutageS: 1 }] },
      ]),
    );
  });

  it('never prints auth_pass, in words or JSON', async () => {
    const file = join(tmp.path, 'auth.yaml');
    writeFileSync(file, readFileSync(example, 'utf8').replace('  unicast: true\n', '  unicast: true\n  auth_pass: Kub3pw\n'));
    for (const args of [[], ['--json']]) {
      const r = await kha('explain', file, '--offline', ...args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/VRRPv2|"version": 2/);
      expect(r.stdout).not.toContain('Kub3pw');
    }
  });

  it('bad input: exit 2 with the problem', async () => {
    const file = join(tmp.path, 'bad.yaml');
    writeFileSync(file, readFileSync(example, 'utf8').replace('priority: 140', 'priority: 150'));
    const r = await kha('explain', file, '--offline');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/priority 150 is also lb\[0\]'s/);
    expect((await kha('explain', join(tmp.path, 'missing.yaml'), '--offline')).code).toBe(2);
  });

  it('live: load balancers that cannot be reached are said, not fatal', async () => {
    // Port 1 on loopback refuses at once: no host, no lab, no waiting.
    const file = join(tmp.path, 'unreachable.yaml');
    writeFileSync(
      file,
      [
        'cluster: { vip: 127.0.0.10/8 }',
        `ssh: { user: root, port: 1, known_hosts: ${join(tmp.path, 'known_hosts')}, connect_timeout: 2 }`,
        'lb:',
        '  - { name: lb1, address: 127.0.0.2 }',
        '  - { name: lb2, address: 127.0.0.3 }',
        'masters:',
        '  - { name: m1, address: 127.0.0.21 }',
        '',
      ].join('\n'),
    );
    writeFileSync(join(tmp.path, 'known_hosts'), '');
    const r = await kha('explain', file);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/lb1\s+unreachable\s+\?\/150/);
    expect(r.stdout).toContain('No reachable load balancer holds the VIP, and no reachable one can take it.');
    expect(r.stdout).toMatch(/lb2 is unreachable \(.+\): kha cannot tell whether it holds the VIP or could take it\./);
    const j = JSON.parse((await kha('explain', file, '--json')).stdout) as { live: { hosts: { state: string }[] } };
    expect(j.live.hosts.map((h) => h.state)).toEqual(['UNREACHABLE', 'UNREACHABLE']);
  });
});

describe('reading one load balancer', () => {
  const r = parseInventory(readFileSync(example, 'utf8'), 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  const inv = r.inventory;

  it('keepalived state from the journal and the VIP from the addresses', async () => {
    const s = new FakeSession(
      'lb2',
      [
        { command: /journalctl -u keepalived/, result: { stdout: '(kha_apiserver) Entering FAULT STATE\n' } },
        { command: "ip -o -4 addr show | grep -v '^[0-9]*: lo ' | grep -q ' inet 10.77.0.10/'", result: { code: 1 } },
      ],
      { order: 'any' },
    );
    expect(await readLiveHost(inv, s)).toEqual({ name: 'lb2', reachable: true, vrrp: 'FAULT', holdsVip: false });
    s.assertDone();
  });

  it('a connection lost while reading makes the host unreachable, with why', async () => {
    const s = new FakeSession(
      'lb1',
      [
        { command: /journalctl -u keepalived/, error: new TransportError('lb1', 'exec', 'connection lost') },
        { command: /ip -o -4 addr show/, result: { code: 0 } },
      ],
      { order: 'any' },
    );
    expect(await readLiveHost(inv, s)).toMatchObject({ name: 'lb1', reachable: false, error: expect.stringContaining('connection lost') });
  });
});
