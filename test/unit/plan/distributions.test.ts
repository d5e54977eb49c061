import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProbe } from '../../../src/facts/parse.js';
import type { HostFacts } from '../../../src/facts/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { packageRoot } from '../../../src/paths.js';
import { describeChange } from '../../../src/plan/changes.js';
import { planHost } from '../../../src/plan/plan.js';
import { CHECKS, versionAtLeast } from '../../../src/preflight/checks.js';
import { FakeSession } from '../../../src/transport/fake.js';
import { KHA_REQUEST } from '../facts/request.js';

// Planning on the recorded facts of each distribution kha supports: the
// same inventory (the example, interfaces left to discovery), different
// hosts. Each plan is spelled out, so a change in behaviour shows here.

const TASKS = ['packages', 'selinux', 'directories', 'firewall', 'files', 'sysctl', 'services'];

function inventory(patch: (t: string) => string = (t) => t): Inventory {
  const text = patch(readFileSync(join(packageRoot, 'examples', 'hosts.yaml'), 'utf8').replace(/\n {4}interface: eth0/g, ''));
  const r = parseInventory(text, 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

function facts(distro: string): HostFacts {
  return parseProbe(distro, readFileSync(join(packageRoot, 'test', 'unit', 'facts', 'fixtures', `${distro}.txt`), 'utf8'), KHA_REQUEST);
}

function plan(inv: Inventory, f: HostFacts): Record<string, string[]> {
  const lb = inv.lbs.find((h) => f.interfaces.some((i) => i.addresses.some((a) => a.startsWith(`${h.address}/`))))!;
  return Object.fromEntries(planHost(inv, lb, f, TASKS).tasks.map((t) => [t.task, t.changes.map(describeChange)]));
}

const NEW_FILES = [
  'create /etc/keepalived/kha-check-haproxy.sh (0755)',
  'create /etc/keepalived/kha-release-connections.sh (0755)',
  'create /etc/keepalived/keepalived.conf (0600)',
];
const SYSCTL_FILE = 'create /etc/sysctl.d/90-kha.conf (0644)';
const SYSCTL_LOAD = 'load sysctl settings from /etc/sysctl.d/90-kha.conf';
const DROP_INS = ['create /etc/systemd/system/keepalived.service.d/kha-restart.conf (0644)', 'create /etc/systemd/system/haproxy.service.d/kha-release.conf (0644)'];

describe('plans per distribution', () => {
  it('Rocky 9, fresh: dnf, both SELinux booleans, firewalld port and VRRP from the peer, /var/lib/haproxy', () => {
    expect(plan(inventory(), facts('rocky-9'))).toEqual({
      packages: ['install keepalived, haproxy (dnf)'],
      selinux: ['setsebool -P haproxy_connect_any on', 'setsebool -P keepalived_connect_any on'],
      directories: ['create directory /var/lib/haproxy (root:root 755)', 'create directory /var/lib/kha (root:root 755)'],
      firewall: ['firewalld (public): open 6443/tcp', 'firewalld (public): rich rule rule family="ipv4" source address="10.77.0.12" protocol value="vrrp" accept'],
      files: [...NEW_FILES, 'create /etc/haproxy/haproxy.cfg (0644)', SYSCTL_FILE, ...DROP_INS, 'systemctl daemon-reload'],
      sysctl: [SYSCTL_LOAD],
      services: ['enable haproxy at boot', 'start haproxy', 'enable keepalived at boot', 'start keepalived'],
    });
  });

  it('Rocky 8, hand-configured: an existing VRRP rule and 6443 are kept, only the missing boolean is set', () => {
    const p = plan(inventory(), facts('rocky-8'));
    expect(p.firewall).toEqual([]);
    expect(p.selinux).toEqual(['setsebool -P keepalived_connect_any on']);
    // A running keepalived kha did not configure: its VRRP settings are unknown, so it rejoins after the holder.
    expect(p.services).toEqual(['reload haproxy (its configuration changed)', 'stop keepalived (kha does not know its VRRP settings; it rejoins after the holder)']);
  });

  it('RHEL 9 with SELinux permissive and firewalld stopped: booleans still set (they matter once enforcing), no firewall rule', () => {
    const p = plan(inventory(), facts('rhel-9'));
    expect(p.selinux).toEqual(['setsebool -P haproxy_connect_any on', 'setsebool -P keepalived_connect_any on']);
    expect(p.firewall).toEqual([]);
    expect(p.packages).toEqual([]);
  });

  it('CentOS 7 with a blog-post keepalived: yum host, its files replaced and keepalived reloaded, haproxy started', () => {
    const f = facts('centos-7');
    expect(f.packageManager).toBe('yum');
    const p = plan(inventory(), f);
    expect(p.packages).toEqual([]);
    expect(p.selinux).toEqual(['setsebool -P haproxy_connect_any on']);
    expect(p.files).toEqual([
      'create /etc/keepalived/kha-check-haproxy.sh (0755)',
      'create /etc/keepalived/kha-release-connections.sh (0755)',
      'update /etc/keepalived/keepalived.conf',
      'update /etc/haproxy/haproxy.cfg',
      SYSCTL_FILE,
      ...DROP_INS,
      'systemctl daemon-reload',
    ]);
    expect(p.services).toEqual(['start haproxy', 'reload keepalived (its configuration changed)']);
  });

  it('Ubuntu 22.04 with ufw active: allow the port, VRRP rules into before.rules, install only what is missing', () => {
    const p = plan(inventory(), facts('ubuntu-22.04'));
    expect(p.packages).toEqual(['install keepalived (apt)']);
    expect(p.firewall).toEqual(['ufw allow 6443/tcp', 'update /etc/ufw/before.rules', 'ufw reload (VRRP rules in before.rules)']);
  });

  it('Ubuntu 24.04 with ufw installed but inactive: no firewall change', () => {
    expect(plan(inventory(), facts('ubuntu-24.04')).firewall).toEqual([]);
  });

  it('Debian 12 (recorded on a real machine): no SELinux, no firewall, apt', () => {
    const f = facts('debian-12');
    expect([f.os.id, f.packageManager, f.selinux.mode, f.firewall.backend]).toEqual(['debian', 'apt', 'absent', 'none']);
  });

  it('the interface is discovered from the route to the VIP when hosts.yaml leaves it out', () => {
    expect(facts('rocky-8').routeToVip).toBe('ens192');
    const inv = inventory();
    const f = facts('rocky-8');
    const conf = planHost(inv, inv.lbs[1]!, f, ['files']).tasks[0]!.changes.find((c) => c.kind === 'file.write' && c.path.endsWith('keepalived.conf'));
    expect((conf as { content: string }).content).toContain('10.77.0.10/24 dev ens192');
  });
});

describe('preflight on recorded facts', () => {
  async function problems(check: string, inv: Inventory, f: HostFacts) {
    const lb = inv.lbs.find((h) => f.interfaces.some((i) => i.addresses.some((a) => a.startsWith(`${h.address}/`))))!;
    const session = new FakeSession(lb.name, []);
    return CHECKS.get(check)!.run({ inv, facts: new Map([[lb.name, f]]), sessions: new Map([[lb.name, session]]) });
  }

  it('accepts a blog-post keepalived holding this VIP (kha takes it over)', async () => {
    expect(await problems('vip', inventory(), facts('centos-7'))).toEqual([]);
  });

  it('refuses the VIP held by a host without keepalived for it', async () => {
    const f = facts('centos-7');
    f.files.find((x) => x.path === '/etc/keepalived/keepalived.conf')!.content = 'vrrp_instance other {\n virtual_ipaddress {\n  10.77.0.99\n }\n}\n';
    const p = await problems('vip', inventory(), f);
    expect(p).toEqual([expect.objectContaining({ host: 'lb1', check: 'vip', message: expect.stringContaining('already holds the VIP 10.77.0.10') })]);
  });

  it('names an interface that does not hold the address', async () => {
    const inv = inventory((t) => t.replace('address: 10.77.0.12', 'address: 10.77.0.12\n    interface: lo'));
    const p = await problems('interface', inv, facts('rocky-8'));
    expect(p[0]?.message).toMatch(/interface lo does not hold 10\.77\.0\.12/);
  });

  it.each(['-x', '.hidden', 'eth0\u001b[2J', 'eth0 evil', 'a-very-long-interface'])('refuses a discovered interface named %j: it is checked as one from hosts.yaml is', async (name) => {
    const f = facts('rocky-8');
    f.routeToVip = name;
    const inv = inventory();
    const p = await problems('interface', inv, f);
    expect(p).toEqual([expect.objectContaining({ host: 'lb2', message: expect.stringContaining(`an interface named ${JSON.stringify(name)}, which kha does not write into keepalived.conf`) })]);
    expect(p[0]!.message).not.toContain('\u001b');
    expect(() => planHost(inv, inv.lbs[1]!, f, ['files'])).toThrow();
  });

  it('warns, not passes, when the router-id listen cannot run (no tcpdump, no python3)', async () => {
    const inv = inventory();
    const f = facts('rocky-8');
    const session = new FakeSession('lb2', [{ command: /tcpdump/, result: { stdout: 'unavailable\n' } }]);
    const p = await CHECKS.get('router-id')!.run({ inv, facts: new Map([['lb2', f]]), sessions: new Map([['lb2', session]]) });
    expect(p).toEqual([{ host: 'lb2', check: 'router-id', warning: true, message: expect.stringContaining('neither tcpdump nor python3') }]);
  });

  it('warns, not passes, when the apiserver check cannot run (no bash)', async () => {
    const f = facts('rocky-8');
    f.apiserversReachable = null;
    expect(await problems('apiserver-reachable', inventory(), f)).toEqual([
      { host: 'lb2', check: 'apiserver-reachable', warning: true, message: expect.stringContaining('no bash') },
    ]);
  });

  it('refuses a firewall asked for by name that does not run, before any change', async () => {
    const inv = inventory((t) => t.replace('firewall: auto', 'firewall: firewalld'));
    expect(await problems('firewall', inv, facts('rhel-9'))).toEqual([
      expect.objectContaining({ host: 'lb2', message: expect.stringContaining('security.firewall is firewalld, but firewalld is not running') }),
    ]);
    expect(await problems('firewall', inventory(), facts('rhel-9'))).toEqual([]);
  });

  it('compares versions part by part', () => {
    expect(versionAtLeast('9.10', '9.9')).toBe(true);
    expect(versionAtLeast('20.04', '20.04')).toBe(true);
    expect(versionAtLeast('18.04', '20.04')).toBe(false);
    expect(versionAtLeast('7', '7')).toBe(true);
  });

  it('refuses an unsupported system', async () => {
    const f = facts('ubuntu-24.04');
    f.os = { family: 'debian', id: 'ubuntu', versionId: '18.04', prettyName: 'Ubuntu 18.04.6 LTS' };
    expect((await problems('os', inventory(), f))[0]?.message).toMatch(/Ubuntu 18\.04\.6 LTS is not supported/);
  });
});
