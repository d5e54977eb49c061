import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HostFacts } from '../../../src/facts/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { packageRoot } from '../../../src/paths.js';
import type { Change } from '../../../src/plan/changes.js';
import { fileDiff } from '../../../src/plan/diff.js';
import { planHost, probeRequest } from '../../../src/plan/plan.js';
import { renderLoadBalancer } from '../../../src/render/render.js';
import { withUfwBlock } from '../../../src/tasks/firewall.js';
import { configDigest, markerPath, NOT_LOADED } from '../../../src/tasks/services.js';

const ALL = ['packages', 'selinux', 'directories', 'firewall', 'files', 'sysctl', 'services'];

function inventory(patch: (text: string) => string = (t) => t, env: Record<string, string> = {}): Inventory {
  const text = patch(readFileSync(join(packageRoot, 'examples', 'hosts.yaml'), 'utf8'));
  const r = parseInventory(text, 'hosts.yaml', env);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

/** A fresh Debian 12 load balancer: nothing of kha's installed yet. */
function freshFacts(inv: Inventory, name = 'lb1'): HostFacts {
  const lb = inv.lbs.find((h) => h.name === name)!;
  const req = probeRequest(inv);
  return {
    host: name,
    os: { family: 'debian', id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
    uid: 0,
    systemd: true,
    packageManager: 'apt',
    selinux: { mode: 'absent', booleans: {} },
    firewall: { backend: 'none', active: false },
    interfaces: [{ name: 'eth0', up: true, addresses: [`${lb.address}/24`] }],
    routeToVip: 'eth0',
    packages: { keepalived: null, haproxy: null },
    files: req.files.map((path) => ({ path, exists: false, mode: null, owner: null, group: null, content: null })),
    directories: req.directories.map((path) => ({ path, exists: false })),
    services: req.services.map((name) => ({ name, present: false, active: 'inactive', enabled: 'disabled', mainPid: 0, startedAtMonotonicUs: 0 })),
    sysctls: { 'net.ipv4.ip_nonlocal_bind': '0', 'net.ipv4.conf.all.arp_ignore': '0', 'net.ipv4.conf.all.arp_announce': '0' },
    apiserversReachable: inv.masters.map((m) => m.name),
  };
}

/** The same host after a successful apply. */
function convergedFacts(inv: Inventory, name = 'lb1'): HostFacts {
  const f = freshFacts(inv, name);
  const lb = inv.lbs.find((h) => h.name === name)!;
  const rendered = renderLoadBalancer(inv, lb, 'eth0');
  f.packages = { keepalived: '1:2.2.7-1+b1', haproxy: '2.6.12-1+deb12u1' };
  f.sysctls = { ...f.sysctls, 'net.ipv4.conf.all.arp_ignore': '1', 'net.ipv4.conf.all.arp_announce': '2' };
  f.directories = f.directories.map((d) => ({ ...d, exists: true }));
  f.services = f.services.map((s) => ({ ...s, present: true, active: 'active', enabled: 'enabled', mainPid: 100 }));
  f.files = f.files.map((file) => {
    const r = rendered.find((x) => x.path === file.path);
    if (r) return { ...file, exists: true, mode: r.mode, owner: 'root', group: 'root', content: r.content };
    const service = (['keepalived', 'haproxy'] as const).find((s) => markerPath(s) === file.path);
    if (service) return { ...file, exists: true, mode: 0o600, owner: 'root', group: 'root', content: configDigest(rendered, service, inv) };
    return file;
  });
  return f;
}

function changes(inv: Inventory, facts: HostFacts, name = 'lb1'): Change[] {
  return planHost(inv, inv.lbs.find((h) => h.name === name)!, facts, ALL).tasks.flatMap((t) => t.changes);
}

const kinds = (cs: Change[]) => cs.map((c) => c.kind);

describe('planning a load balancer', () => {
  it('on a fresh host: install, create every file, enable and start both services', () => {
    const inv = inventory();
    const cs = changes(inv, freshFacts(inv));
    expect(kinds(cs)).toEqual([
      'package.install',
      'directory.create',
      'directory.create',
      'file.write',
      'file.write',
      'file.write',
      'file.write',
      'file.write',
      'file.write',
      'file.write',
      'systemd.daemon-reload',
      // arp_ignore before keepalived ever runs the release script.
      'sysctl.load',
      'service.enable',
      'service.start',
      'service.enable',
      'service.start',
    ]);
    expect(cs[0]).toMatchObject({ manager: 'apt', packages: ['keepalived', 'haproxy'] });
    // haproxy first: keepalived's check asks haproxy, so it must already listen.
    expect(cs.filter((c) => c.kind === 'service.start').map((c) => (c as { service: string }).service)).toEqual(['haproxy', 'keepalived']);
    const conf = cs.find((c) => c.kind === 'file.write' && c.path === '/etc/keepalived/keepalived.conf');
    expect(conf).toMatchObject({ mode: 0o600, secret: true });
    expect((conf as { validate?: string }).validate).toContain('keepalived -t');
  });

  it('on a converged host: no change at all (a second apply restarts nothing)', () => {
    const inv = inventory();
    expect(changes(inv, convergedFacts(inv))).toEqual([]);
  });

  it('repairs a hand-edited haproxy.cfg and reloads only haproxy', () => {
    const inv = inventory();
    const f = convergedFacts(inv);
    const cfg = f.files.find((x) => x.path === '/etc/haproxy/haproxy.cfg')!;
    cfg.content = cfg.content!.replace('balance leastconn', 'balance source');
    const cs = changes(inv, f);
    expect(kinds(cs)).toEqual(['file.write', 'service.reload']);
    expect(cs[1]).toMatchObject({ service: 'haproxy', why: 'its configuration changed' });
  });

  it('reloads the holder\'s keepalived when what it loaded is not the file on disk (an interrupted apply)', () => {
    const inv = inventory();
    const f = convergedFacts(inv);
    f.interfaces[0]!.addresses.push('10.77.0.10/24');
    f.files.find((x) => x.path === markerPath('keepalived'))!.content = 'stale\n';
    const cs = changes(inv, f);
    expect(cs).toEqual([expect.objectContaining({ kind: 'service.reload', service: 'keepalived', why: 'the running configuration is older than the file' })]);
  });

  it('starts a stopped keepalived (kha lab fault keepalived-stop) without touching files', () => {
    const inv = inventory();
    const f = convergedFacts(inv);
    f.services.find((s) => s.name === 'keepalived')!.active = 'inactive';
    expect(kinds(changes(inv, f))).toEqual(['service.start']);
  });

  it('a backup whose VRRP group changes stops, to rejoin after the holder; the holder reloads', () => {
    const before = inventory();
    const after = inventory((t) => t.replace('virtual_router_id: 51', 'virtual_router_id: 52'));
    const backup = convergedFacts(before, 'lb2');
    expect(changes(after, backup, 'lb2').filter((c) => c.kind.startsWith('service.'))).toEqual([
      expect.objectContaining({ kind: 'service.stop', service: 'keepalived', why: 'its VRRP group changes; it rejoins after the holder' }),
    ]);
    const holder = convergedFacts(before, 'lb1');
    holder.interfaces[0]!.addresses.push('10.77.0.10/24');
    expect(changes(after, holder, 'lb1').filter((c) => c.kind.startsWith('service.'))).toEqual([
      expect.objectContaining({ kind: 'service.reload', service: 'keepalived' }),
    ]);
  });

  it('a backup whose files an earlier stage wrote reloads, as the plan shown said: the marker still names its group', () => {
    const inv = inventory();
    const f = convergedFacts(inv, 'lb2');
    const marker = f.files.find((x) => x.path === markerPath('keepalived'))!;
    // As the file stage leaves it (apply-change's forget): the digest gone, the group kept.
    marker.content = marker.content!.replace(/^.*$/m, NOT_LOADED);
    expect(changes(inv, f, 'lb2').filter((c) => c.kind.startsWith('service.'))).toEqual([
      expect.objectContaining({ kind: 'service.reload', service: 'keepalived', why: 'the running configuration is older than the file' }),
    ]);
    marker.content = null;
    expect(changes(inv, f, 'lb2').filter((c) => c.kind.startsWith('service.'))).toEqual([
      expect.objectContaining({ kind: 'service.stop', service: 'keepalived', why: 'kha does not know its VRRP settings; it rejoins after the holder' }),
    ]);
  });

  it('does not reload again in a later stage what an earlier stage already reloaded after writing', () => {
    const inv = inventory();
    const f = convergedFacts(inv);
    const lb = inv.lbs[0]!;
    const cfg = f.files.find((x) => x.path === '/etc/haproxy/haproxy.cfg')!;
    const earlier: Change[] = [
      { kind: 'file.write', path: cfg.path, mode: 0o644, content: cfg.content!, previous: 'old', modeOnly: false, secret: false, service: 'haproxy' },
      { kind: 'service.reload', service: 'haproxy', why: 'its configuration changed', marker: { path: markerPath('haproxy'), digest: 'x' } },
    ];
    expect(planHost(inv, lb, f, ['services'], earlier).tasks[0]!.changes).toEqual([]);
    expect(planHost(inv, lb, f, ['services'], earlier.slice(0, 1)).tasks[0]!.changes).toEqual([
      expect.objectContaining({ kind: 'service.reload', service: 'haproxy' }),
    ]);
  });

  it('fixes a wrong mode without reloading', () => {
    const inv = inventory();
    const f = convergedFacts(inv);
    f.files.find((x) => x.path === '/etc/keepalived/keepalived.conf')!.mode = 0o644;
    const cs = changes(inv, f);
    expect(cs).toEqual([expect.objectContaining({ kind: 'file.write', modeOnly: true, mode: 0o600 })]);
  });

  it('loads the sysctl drop-in when haproxy binds the VIP, and only while the value differs', () => {
    const inv = inventory((t) => t.replace('security:', 'haproxy:\n  bind: vip\nsecurity:'));
    const f = convergedFacts(inv);
    expect(kinds(changes(inv, f))).toEqual(['sysctl.load']);
    f.sysctls['net.ipv4.ip_nonlocal_bind'] = '1';
    expect(changes(inv, f)).toEqual([]);
  });
});

describe('SELinux', () => {
  it('sets both booleans where SELinux is enforcing', () => {
    const inv = inventory();
    const f = convergedFacts(inv);
    f.selinux = { mode: 'enforcing', booleans: { haproxy_connect_any: false, keepalived_connect_any: false } };
    expect(changes(inv, f)).toEqual([
      { kind: 'selinux.boolean', name: 'haproxy_connect_any', value: true },
      { kind: 'selinux.boolean', name: 'keepalived_connect_any', value: true },
    ]);
  });

  it('skips a boolean the policy does not have, and one already on', () => {
    const inv = inventory();
    const f = convergedFacts(inv);
    f.selinux = { mode: 'enforcing', booleans: { haproxy_connect_any: true } };
    expect(changes(inv, f)).toEqual([]);
  });

  it('switches to permissive on request, also when only the boot setting is enforcing', () => {
    const inv = inventory((t) => t.replace('selinux: boolean', 'selinux: permissive'));
    const f = convergedFacts(inv);
    f.selinux = { mode: 'permissive', booleans: {} };
    const cfg = f.files.find((x) => x.path === '/etc/selinux/config')!;
    Object.assign(cfg, { exists: true, content: 'SELINUX=enforcing\nSELINUXTYPE=targeted\n' });
    expect(changes(inv, f)).toEqual([{ kind: 'selinux.permissive' }]);
  });

  it('leaves SELinux alone with keep', () => {
    const inv = inventory((t) => t.replace('selinux: boolean', 'selinux: keep'));
    const f = convergedFacts(inv);
    f.selinux = { mode: 'enforcing', booleans: { haproxy_connect_any: false } };
    expect(changes(inv, f)).toEqual([]);
  });
});

describe('firewall', () => {
  it('firewalld: opens the port and accepts VRRP from each peer only', () => {
    const inv = inventory();
    const f = convergedFacts(inv);
    f.firewall = { backend: 'firewalld', active: true, firewalld: { defaultZone: 'public', ports: [], richRules: [], protocols: [] } };
    expect(changes(inv, f)).toEqual([
      { kind: 'firewalld.rule', zone: 'public', rule: { type: 'port', port: 6443, protocol: 'tcp' } },
      { kind: 'firewalld.rule', zone: 'public', rule: { type: 'rich', text: 'rule family="ipv4" source address="10.77.0.12" protocol value="vrrp" accept' } },
    ]);
    f.firewall.firewalld = { defaultZone: 'public', ports: ['6443/tcp'], richRules: ['rule family="ipv4" source address="10.77.0.12" protocol value="vrrp" accept'], protocols: [] };
    expect(changes(inv, f)).toEqual([]);
  });

  it('firewalld with multicast adverts accepts VRRP to 224.0.0.18', () => {
    const inv = inventory((t) => t.replace('unicast: true', 'unicast: false'));
    const f = convergedFacts(inv);
    f.firewall = { backend: 'firewalld', active: true, firewalld: { defaultZone: 'internal', ports: ['6443/tcp'], richRules: [], protocols: [] } };
    expect(changes(inv, f)).toEqual([
      { kind: 'firewalld.rule', zone: 'internal', rule: { type: 'rich', text: 'rule family="ipv4" destination address="224.0.0.18" protocol value="vrrp" accept' } },
    ]);
  });

  it('auto does nothing when no firewall runs; an inactive firewalld is not touched', () => {
    const inv = inventory();
    const f = convergedFacts(inv);
    f.firewall = { backend: 'firewalld', active: false };
    expect(changes(inv, f)).toEqual([]);
  });

  it('ufw: allows the port and puts VRRP rules into before.rules, once', () => {
    const inv = inventory();
    const f = convergedFacts(inv);
    const before = '*filter\n:ufw-before-input - [0:0]\n-A ufw-before-input -i lo -j ACCEPT\nCOMMIT\n';
    f.firewall = { backend: 'ufw', active: true, ufw: { rules: [] } };
    Object.assign(f.files.find((x) => x.path === '/etc/ufw/before.rules')!, { exists: true, mode: 0o640, content: before });
    const cs = changes(inv, f);
    expect(kinds(cs)).toEqual(['ufw.allow', 'file.write', 'ufw.reload']);
    const written = (cs[1] as { content: string }).content;
    expect(written).toContain('-A ufw-before-input -p vrrp -s 10.77.0.12 -j ACCEPT\n# kha: VRRP (end)\nCOMMIT');
    expect(withUfwBlock(written, ['-A ufw-before-input -p vrrp -s 10.77.0.12 -j ACCEPT'])).toBe(written);
  });
});

describe('diffs', () => {
  it('redact the VRRP password kha writes and one a hand-written file holds', () => {
    const inv = inventory((t) => t.replace('virtual_router_id: 51', 'virtual_router_id: 51\n  auth_pass: env:PW'), { PW: 'topsecr' });
    const f = convergedFacts(inv);
    f.files.find((x) => x.path === '/etc/keepalived/keepalived.conf')!.content = 'vrrp_instance x {\n    auth_pass 1111\n}\n';
    const change = changes(inv, f).find((c) => c.kind === 'file.write' && c.path === '/etc/keepalived/keepalived.conf');
    const diff = fileDiff(change as Extract<Change, { kind: 'file.write' }>, [inv.keepalived.authPass!]);
    expect(diff).toContain('auth_pass <redacted>');
    expect(diff).not.toContain('topsecr');
    expect(diff).not.toContain('1111');
  });

  it('redact credentials in an old haproxy.cfg kha replaces: stats auth, userlist passwords', () => {
    const inv = inventory();
    const f = convergedFacts(inv);
    f.files.find((x) => x.path === '/etc/haproxy/haproxy.cfg')!.content = [
      'listen stats',
      '    bind *:9000',
      '    stats auth admin:Adm1nPw',
      'userlist ops',
      '    user alice password $6$saltsalt$hashhash',
      '    user bob insecure-password B0bPw',
      '',
    ].join('\n');
    const change = changes(inv, f).find((c) => c.kind === 'file.write' && c.path === '/etc/haproxy/haproxy.cfg');
    const diff = fileDiff(change as Extract<Change, { kind: 'file.write' }>, []);
    expect(diff).toContain('-    stats auth <redacted>');
    expect(diff).toContain('-    user alice password <redacted>');
    expect(diff).toContain('-    user bob insecure-password <redacted>');
    for (const leak of ['Adm1nPw', 'hashhash', 'B0bPw']) expect(diff).not.toContain(leak);
  });
});
