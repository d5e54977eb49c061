import { describe, expect, it } from 'vitest';
import type { HostFacts } from '../../../src/facts/types.js';
import { FIXTURES, fixtureFacts as facts } from './fixture.js';

// Each fixture is the probe's output as that distribution prints it (debian-12
// recorded on the development machine, a Debian 12 container; the others
// written from those distributions' real command output formats).

const file = (f: HostFacts, path: string) => f.files.find((x) => x.path === path)!;
const service = (f: HostFacts, name: string) => f.services.find((x) => x.name === name)!;

describe('recorded probe output', () => {
  it.each(FIXTURES)('%s: every requested item is reported, the host is named', (name) => {
    const f = facts(name, 'lb1');
    expect(f.host).toBe('lb1');
    expect(f.uid).toBe(0);
    expect(f.files).toHaveLength(9);
    expect(f.interfaces.length).toBeGreaterThan(1);
  });

  it('debian-12 (recorded): apt, no SELinux, no firewall, packages from dpkg, no systemd in a container', () => {
    const f = facts('debian-12');
    expect(f.os).toEqual({ family: 'debian', id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' });
    expect(f.uid).toBe(0);
    expect(f.packageManager).toBe('apt');
    expect(f.selinux).toEqual({ mode: 'absent', booleans: {} });
    expect(f.firewall).toEqual({ backend: 'none', active: false });
    expect(f.packages).toEqual({ keepalived: '1:2.2.7-1+b2', haproxy: '2.6.12-1+deb12u4' });
    expect(f.interfaces.find((i) => i.name === 'lo')).toEqual({ name: 'lo', up: true, addresses: ['127.0.0.1/8'] });
    expect(f.interfaces.find((i) => i.name === 'ifb0')?.up).toBe(false);
    expect(f.routeToVip).toBe('eth0');
    const cfg = file(f, '/etc/haproxy/haproxy.cfg');
    expect(cfg).toMatchObject({ exists: true, mode: 0o644, owner: 'root', group: 'root' });
    expect(cfg.content).toContain('stats socket /run/haproxy/admin.sock');
    expect(file(f, '/etc/keepalived/keepalived.conf')).toEqual({
      path: '/etc/keepalived/keepalived.conf', exists: false, mode: null, owner: null, group: null, content: null,
    });
    expect(f.directories.find((d) => d.path === '/var/lib/haproxy')?.exists).toBe(true);
    // PID 1 of the recording machine is not systemd: service states are unknown, not "stopped".
    expect(f.systemd).toBe(false);
    expect(service(f, 'haproxy')).toMatchObject({ present: false, active: 'unknown', enabled: 'unknown' });
    expect(f.sysctls).toEqual({ 'net.ipv4.ip_nonlocal_bind': '0' });
  });

  it('ubuntu-22.04: ufw active with its rules, keepalived removed but not purged counts as not installed', () => {
    const f = facts('ubuntu-22.04');
    expect(f.os).toMatchObject({ family: 'debian', id: 'ubuntu', versionId: '22.04', prettyName: 'Ubuntu 22.04.4 LTS' });
    expect(f.systemd).toBe(true);
    expect(f.packageManager).toBe('apt');
    expect(f.selinux.mode).toBe('absent');
    expect(f.firewall).toEqual({ backend: 'ufw', active: true, ufw: { rules: ['ufw allow OpenSSH'] } });
    expect(f.packages).toEqual({ keepalived: null, haproxy: '2.4.24-0ubuntu0.22.04.1' });
    expect(f.interfaces).toContainEqual({ name: 'ens3', up: true, addresses: ['10.77.0.11/24'] });
    expect(f.routeToVip).toBe('ens3');
    const rules = file(f, '/etc/ufw/before.rules');
    expect(rules).toMatchObject({ exists: true, mode: 0o640 });
    expect(rules.content).toMatch(/^COMMIT$/m);
    expect(service(f, 'haproxy')).toEqual({
      name: 'haproxy', present: true, active: 'active', enabled: 'enabled', mainPid: 1187, startedAtMonotonicUs: 9183452,
    });
    expect(service(f, 'keepalived')).toMatchObject({ present: false, active: 'inactive', enabled: '' });
  });

  it('ubuntu-24.04: ufw installed but inactive, keepalived installed and waiting for a configuration', () => {
    const f = facts('ubuntu-24.04');
    expect(f.os).toMatchObject({ family: 'debian', id: 'ubuntu', versionId: '24.04' });
    expect(f.firewall).toEqual({ backend: 'ufw', active: false, ufw: { rules: [] } });
    expect(f.packages).toEqual({ keepalived: '1:2.2.8-1build2', haproxy: '2.8.5-1ubuntu3' });
    expect(f.routeToVip).toBe('enp1s0');
    expect(service(f, 'keepalived')).toMatchObject({ present: true, active: 'inactive', enabled: 'enabled', mainPid: 0 });
  });

  it('rocky-9: dnf (not yum), SELinux enforcing with both booleans off, firewalld running with nothing open', () => {
    const f = facts('rocky-9');
    expect(f.os).toEqual({ family: 'rhel', id: 'rocky', versionId: '9.4', prettyName: 'Rocky Linux 9.4 (Blue Onyx)' });
    expect(f.packageManager).toBe('dnf');
    expect(f.selinux).toEqual({ mode: 'enforcing', booleans: { haproxy_connect_any: false, keepalived_connect_any: false } });
    expect(f.firewall).toEqual({
      backend: 'firewalld',
      active: true,
      firewalld: {
        defaultZone: 'public', zone: 'public', ports: [], richRules: [], protocols: [],
        permanent: { ports: [], richRules: [], protocols: [] },
      },
    });
    expect(f.packages).toEqual({ keepalived: null, haproxy: null });
    expect(f.services.map((s) => [s.name, s.present])).toEqual([['haproxy', false], ['keepalived', false]]);
    expect(file(f, '/etc/selinux/config').content).toMatch(/^SELINUX=enforcing$/m);
    expect(f.directories).toEqual([{ path: '/var/lib/haproxy', exists: false }, { path: '/var/lib/kha', exists: false }]);
  });

  it('rocky-8: the VRRP rich rule and 6443/tcp already open; a runtime-only port shows against the permanent list', () => {
    const f = facts('rocky-8');
    expect(f.os).toMatchObject({ family: 'rhel', id: 'rocky', versionId: '8.10' });
    expect(f.selinux).toEqual({ mode: 'enforcing', booleans: { haproxy_connect_any: true, keepalived_connect_any: false } });
    const fw = f.firewall.firewalld!;
    expect(fw.ports).toEqual(['6443/tcp', '8404/tcp']);
    expect(fw.permanent?.ports).toEqual(['6443/tcp']);
    expect(fw.richRules).toEqual(['rule protocol value="vrrp" accept']);
    expect(fw.permanent?.richRules).toEqual(['rule protocol value="vrrp" accept']);
    expect(f.packages).toEqual({ keepalived: '2.1.5-9.el8', haproxy: '1.8.27-5.el8' });
    expect(f.routeToVip).toBe('ens192');
    expect(file(f, '/etc/keepalived/keepalived.conf').content).toContain('state BACKUP');
    expect(service(f, 'keepalived')).toMatchObject({ active: 'active', enabled: 'enabled', mainPid: 1051 });
  });

  it('rhel-9: SELinux permissive, firewalld installed but not running, packages installed and never enabled', () => {
    const f = facts('rhel-9');
    expect(f.os).toEqual({ family: 'rhel', id: 'rhel', versionId: '9.4', prettyName: 'Red Hat Enterprise Linux 9.4 (Plow)' });
    expect(f.packageManager).toBe('dnf');
    expect(f.selinux.mode).toBe('permissive');
    expect(f.firewall).toEqual({ backend: 'firewalld', active: false });
    expect(f.packages).toEqual({ keepalived: '2.2.8-3.el9', haproxy: '2.4.22-3.el9_3' });
    // The package's sample configuration: vrrp_strict, a VIP on 192.168.200.16.
    expect(file(f, '/etc/keepalived/keepalived.conf').content).toContain('vrrp_strict');
    expect(file(f, '/etc/haproxy/haproxy.cfg').content).toContain('stats socket /var/lib/haproxy/stats');
    expect(f.services.map((s) => [s.name, s.active, s.enabled])).toEqual([
      ['haproxy', 'inactive', 'disabled'],
      ['keepalived', 'inactive', 'disabled'],
    ]);
  });

  it('centos-7: yum, a hand-built MASTER holding the VIP, haproxy failed under enforcing SELinux', () => {
    const f = facts('centos-7');
    expect(f.os).toEqual({ family: 'rhel', id: 'centos', versionId: '7', prettyName: 'CentOS Linux 7 (Core)' });
    expect(f.packageManager).toBe('yum');
    // The policy of CentOS 7 has no keepalived_connect_any: absent, not false.
    expect(f.selinux).toEqual({ mode: 'enforcing', booleans: { haproxy_connect_any: false } });
    expect(f.firewall.firewalld).toMatchObject({ ports: ['6443/tcp'], richRules: ['rule protocol value="vrrp" accept'] });
    expect(f.packages).toEqual({ keepalived: '1.3.5-19.el7', haproxy: '1.5.18-9.el7_9.1' });
    expect(f.interfaces).toContainEqual({ name: 'eth0', up: true, addresses: ['10.77.0.11/24', '10.77.0.10/32'] });
    // The holder's route to its own VIP is `local ... dev lo`; the VIP's interface is eth0.
    expect(f.routeToVip).toBe('eth0');
    const conf = file(f, '/etc/keepalived/keepalived.conf');
    expect(conf).toMatchObject({ exists: true, mode: 0o644 });
    expect(conf.content).toContain('state MASTER');
    expect(conf.content).toContain('script "killall -0 haproxy"');
    expect(service(f, 'haproxy')).toMatchObject({ present: true, active: 'failed', mainPid: 0 });
    expect(service(f, 'keepalived')).toMatchObject({ active: 'active', mainPid: 1322 });
  });
});
