import { describe, expect, it } from 'vitest';
import { HostError } from '../../../src/errors.js';
import { parseProbe } from '../../../src/facts/parse.js';
import {
  combineFirewall,
  parseFirewalldSummary,
  parseInterfaces,
  parseListAll,
  parseRoute,
  parseUfwAdded,
  parseUfwStatus,
} from '../../../src/facts/parse-network.js';
import { assignContents, parseApiservers, parseDirectory, parseFile, parseService, parseSysctl } from '../../../src/facts/parse-state.js';
import {
  parseInit,
  parseOsRelease,
  parsePackageManager,
  parsePackageVersion,
  parseSelinux,
  parseUid,
} from '../../../src/facts/parse-system.js';
import { SectionError, splitSections } from '../../../src/facts/sections.js';
import type { ProbeRequest } from '../../../src/facts/types.js';

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

describe('section splitting', () => {
  it('keys sections by kind and item, drops blank lines and anything before the first header', () => {
    const s = splitSections('Welcome to lb1\n\n@@kha:uid@@\n0\n\n@@kha:file /etc/a b\'c@@\nmissing\n');
    expect([...s.entries()]).toEqual([
      ['uid', ['0']],
      ["file /etc/a b'c", ['missing']],
    ]);
  });

  it('rejects an unknown or repeated header', () => {
    expect(() => splitSections('@@kha:bogus@@\n')).toThrow(/unknown section header "@@kha:bogus@@"/);
    expect(() => splitSections('@@kha:uid@@\n0\n@@kha:uid@@\n0\n')).toThrow(/section "uid" appears twice/);
  });
});

describe('system sections', () => {
  it('os-release: quoting styles and the family from ID or ID_LIKE', () => {
    expect(parseOsRelease(lines('# comment\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\nPRETTY_NAME=\'Ubuntu "LTS"\''))).toEqual({
      family: 'debian', id: 'ubuntu', versionId: '22.04', prettyName: 'Ubuntu "LTS"',
    });
    expect(parseOsRelease(['ID="almalinux"', 'ID_LIKE="rhel centos fedora"']).family).toBe('rhel');
    expect(parseOsRelease(['ID="ol"', 'ID_LIKE="fedora"']).family).toBe('rhel');
    expect(parseOsRelease(['ID=fedora']).family).toBe('rhel');
    expect(parseOsRelease(['ID=linuxmint', 'ID_LIKE="ubuntu debian"']).family).toBe('debian');
    expect(parseOsRelease(['ID=alpine']).family).toBe('unknown');
    expect(parseOsRelease([])).toEqual({ family: 'unknown', id: '', versionId: '', prettyName: '' });
    expect(parseOsRelease(['PRETTY_NAME="a \\"quoted\\" \\$name"']).prettyName).toBe('a "quoted" $name');
    expect(() => parseOsRelease(['this is not os-release'])).toThrow(SectionError);
  });

  it('uid is one number', () => {
    expect(parseUid(['0'])).toBe(0);
    expect(parseUid(['1000'])).toBe(1000);
    expect(() => parseUid([])).toThrow(SectionError);
    expect(() => parseUid(['uid=0(root)'])).toThrow(/one numeric uid/);
  });

  it('systemd from /run/systemd/system or the name of PID 1', () => {
    expect(parseInit(['comm systemd', 'run-systemd yes'])).toBe(true);
    expect(parseInit(['comm init', 'run-systemd yes'])).toBe(true);
    expect(parseInit(['comm process_api', 'run-systemd no'])).toBe(false);
    expect(parseInit(['comm', 'run-systemd no'])).toBe(false);
    expect(() => parseInit(['pid1=systemd'])).toThrow(SectionError);
  });

  it('package manager: dnf over its yum symlink; the family decides between apt and rpm tools', () => {
    expect(parsePackageManager(['dnf', 'yum'], 'rhel')).toBe('dnf');
    expect(parsePackageManager(['yum'], 'rhel')).toBe('yum');
    expect(parsePackageManager(['apt-get', 'dnf'], 'debian')).toBe('apt');
    expect(parsePackageManager(['yum'], 'debian')).toBe('none');
    expect(parsePackageManager([], 'unknown')).toBe('none');
    expect(parsePackageManager(['dnf'], 'unknown')).toBe('dnf');
    expect(() => parsePackageManager(['zypper'], 'unknown')).toThrow(/unexpected line "zypper"/);
  });

  it('SELinux: getenforce, else the sysfs flag, else absent; booleans only as the policy has them', () => {
    expect(parseSelinux([])).toEqual({ mode: 'absent', booleans: {} });
    expect(parseSelinux(['getenforce Disabled'])).toEqual({ mode: 'disabled', booleans: {} });
    expect(parseSelinux(['enforce 1'])).toEqual({ mode: 'enforcing', booleans: {} });
    expect(parseSelinux(['getenforce Permissive', 'enforce 0', 'haproxy_connect_any --> on'])).toEqual({
      mode: 'permissive', booleans: { haproxy_connect_any: true },
    });
    expect(() => parseSelinux(['getenforce Maybe'])).toThrow(/unknown getenforce answer/);
    expect(() => parseSelinux(['getsebool:  SELinux is disabled'])).toThrow(SectionError);
  });

  it('package versions from dpkg (installed only) or rpm', () => {
    expect(parsePackageVersion(['dpkg install ok installed|1:2.2.7-1+b2'])).toBe('1:2.2.7-1+b2');
    expect(parsePackageVersion(['dpkg deinstall ok config-files|1:2.2.4-0.2build1'])).toBeNull();
    expect(parsePackageVersion(['rpm 1.5.18-9.el7_9.1'])).toBe('1.5.18-9.el7_9.1');
    expect(parsePackageVersion(['package haproxy is not installed'])).toBeNull();
    expect(parsePackageVersion([])).toBeNull();
    // An rpm tool on Debian answers too; dpkg's installed package wins.
    expect(parsePackageVersion(['dpkg install ok installed|2.6.12-1', 'package haproxy is not installed'])).toBe('2.6.12-1');
    expect(() => parsePackageVersion(['error: rpmdb open failed'])).toThrow(SectionError);
  });
});

describe('network sections', () => {
  const links = [
    '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00',
    '2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 0a:1b:2c:3d:4e:5f brd ff:ff:ff:ff:ff:ff link-netnsid 0',
    '3: eth1: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc fq_codel state DOWN mode DEFAULT group default qlen 1000\\    link/ether 52:54:00:00:00:02 brd ff:ff:ff:ff:ff:ff',
  ];
  const addrs = [
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
    '2: eth0    inet 10.77.0.11/24 brd 10.77.0.255 scope global eth0\\       valid_lft forever preferred_lft forever',
    '2: eth0    inet 10.77.0.10/32 scope global eth0\\       valid_lft forever preferred_lft forever',
  ];

  it('interfaces: names without the @peer suffix, up only with a carrier, addresses joined by index', () => {
    expect(parseInterfaces(links, addrs)).toEqual([
      { name: 'lo', up: true, addresses: ['127.0.0.1/8'] },
      { name: 'eth0', up: true, addresses: ['10.77.0.11/24', '10.77.0.10/32'] },
      { name: 'eth1', up: false, addresses: [] },
    ]);
    expect(() => parseInterfaces(['garbage'], [])).toThrow(/not an "ip -o link" line/);
    expect(() => parseInterfaces(links, ['9: eth9    inet 10.0.0.1/8 scope global eth9'])).toThrow(/did not list/);
  });

  it('route to the VIP: the dev, the holding interface for a local route, null when unroutable', () => {
    const ifaces = parseInterfaces(links, addrs);
    expect(parseRoute(['10.77.0.10 dev eth0 src 10.77.0.11 uid 0 \\    cache '], '10.77.0.10', ifaces)).toBe('eth0');
    expect(parseRoute(['10.9.0.10 via 10.77.0.1 dev eth0 src 10.77.0.11 uid 0 \\    cache '], '10.9.0.10', ifaces)).toBe('eth0');
    expect(parseRoute(['local 10.77.0.10 dev lo table local src 10.77.0.10 uid 0 \\    cache <local> '], '10.77.0.10', ifaces)).toBe('eth0');
    expect(parseRoute(['local 10.77.0.99 dev lo table local src 10.77.0.99 uid 0 \\    cache <local> '], '10.77.0.99', ifaces)).toBeNull();
    expect(parseRoute([], '10.77.0.10', ifaces)).toBeNull();
    expect(parseRoute(['unreachable 10.77.0.10 uid 0 \\    cache <local> '], '10.77.0.10', ifaces)).toBeNull();
    expect(() => parseRoute(['RTNETLINK answers: Network is unreachable'], '10.77.0.10', ifaces)).toThrow(/no "dev"/);
  });

  it('firewalld: summary, rich rules; a running firewalld without a zone is an error', () => {
    expect(parseFirewalldSummary(['installed no'])).toEqual({ installed: false, running: false, defaultZone: '', zone: '' });
    expect(parseFirewalldSummary(['installed yes', 'state not running'])).toMatchObject({ installed: true, running: false });
    expect(parseFirewalldSummary(['installed yes', 'state running', 'default-zone public', 'zone internal'])).toEqual({
      installed: true, running: true, defaultZone: 'public', zone: 'internal',
    });
    expect(() => parseFirewalldSummary(['installed yes', 'state running', 'default-zone ', 'zone '])).toThrow(/no zone/);
    expect(() => parseFirewalldSummary(['FirewallD is not running'])).toThrow(SectionError);
  });

  it('firewalld --list-all: ports, protocols, rich rules on tab lines; forward ports on tab lines are not rules', () => {
    const rule = 'rule family="ipv4" source address="10.77.0.12" protocol value="vrrp" accept';
    const listAll = [
      'internal (active)', '  target: default', '  icmp-block-inversion: no', '  interfaces: eth0', '  sources: ', '  services: ssh',
      '  ports: 6443/tcp 8404/tcp', '  protocols: ', '  forward: yes', '  masquerade: no', '  forward-ports: ',
      '\tport=8080:proto=tcp:toport=80:toaddr=', '  source-ports: ', '  icmp-blocks: ', '  rich rules: ', `\t${rule}`,
    ];
    expect(parseListAll(listAll)).toEqual({ ports: ['6443/tcp', '8404/tcp'], protocols: [], richRules: [rule] });
    // CentOS 7's firewalld 0.6: fewer keys, protocols filled, no rich rules.
    expect(parseListAll(['public', '  target: default', '  ports: ', '  protocols: vrrp', '  rich rules: '])).toEqual({ ports: [], protocols: ['vrrp'], richRules: [] });
    expect(() => parseListAll(['public', '  target: default'])).toThrow(/"ports" or "rich rules" missing/);
    expect(() => parseListAll(['public', '  ports: ', '  rich rules: ', '\tAuthorization failed.'])).toThrow(/not a rich rule/);
    expect(() => parseListAll(['public', 'Error: INVALID_ZONE: nope'])).toThrow(SectionError);
  });

  it('ufw: status and added rules', () => {
    expect(parseUfwStatus(['Status: active', 'To    Action  From'])).toBe(true);
    expect(parseUfwStatus(['Status: inactive'])).toBe(false);
    expect(parseUfwStatus([])).toBeNull();
    expect(() => parseUfwStatus(['Statut : actif'])).toThrow(/Status: active\|inactive/);
    expect(parseUfwAdded(["Added user rules (see 'ufw status' for running firewall):", 'ufw allow 22/tcp', 'ufw allow from 10.0.0.0/8'])).toEqual([
      'ufw allow 22/tcp',
      'ufw allow from 10.0.0.0/8',
    ]);
    expect(parseUfwAdded(["Added user rules (see 'ufw status' for running firewall):", '(None)'])).toEqual([]);
    expect(() => parseUfwAdded(['ERROR: You need to be root to run this script'])).toThrow(SectionError);
  });

  it('the backend: running firewalld, then active ufw, then whichever is installed', () => {
    const off = { installed: false, running: false, defaultZone: '', zone: '' };
    const lists = { ports: [], richRules: [], protocols: [] };
    expect(combineFirewall({ summary: off, ufwActive: null, ufwRules: null })).toEqual({ backend: 'none', active: false });
    expect(combineFirewall({ summary: { ...off, installed: true }, ufwActive: true, ufwRules: ['ufw allow 22'] })).toEqual({
      backend: 'ufw', active: true, ufw: { rules: ['ufw allow 22'] },
    });
    expect(combineFirewall({ summary: { ...off, installed: true }, ufwActive: false, ufwRules: [] }).backend).toBe('firewalld');
    expect(combineFirewall({ summary: { installed: true, running: true, defaultZone: 'public', zone: 'dmz' }, runtime: lists, ufwActive: null, ufwRules: null })).toEqual({
      backend: 'firewalld', active: true, firewalld: { defaultZone: 'public', zone: 'dmz', ...lists },
    });
  });
});

describe('state sections', () => {
  it('files: mode, owner, size; missing; not a regular file', () => {
    expect(parseFile('/a', ['stat 600 root root', 'size 4'])).toEqual({
      facts: { path: '/a', exists: true, mode: 0o600, owner: 'root', group: 'root', content: null }, size: 4,
    });
    expect(parseFile('/a', ['missing'])).toEqual({ facts: { path: '/a', exists: false, mode: null, owner: null, group: null, content: null }, size: null });
    expect(parseFile('/a', ['stat 755 root root', 'not-a-file'])).toMatchObject({ facts: { exists: true, mode: 0o755, content: null }, size: null });
    expect(() => parseFile('/a', ['size 3'])).toThrow(/mode was not reported/);
    expect(() => parseFile('/a', ['cat: /a: Permission denied'])).toThrow(SectionError);
  });

  it('file contents: one blob cut by the sizes, unreadable files skipped, a changed file refused', () => {
    const file = (path: string, size: number | null) => ({ facts: { path, exists: true, mode: 0o644, owner: 'root', group: 'root', content: null }, size });
    const blob = Buffer.from('x\ny\n' + 'é\n').toString('base64');
    expect(assignContents([file('/a', 4), file('/dir', null), file('/b', 3), file('/empty', 0)], [blob]).map((f) => f.content)).toEqual(['x\ny\n', null, 'é\n', '']);
    expect(assignContents([], [])).toEqual([]);
    expect(() => assignContents([file('/a', 5)], [blob])).toThrow(/7 bytes of file contents for 5 bytes of files: a file changed while it was read/);
    expect(() => assignContents([file('/a', 1)], ['!!!'])).toThrow(/not base64/);
  });

  it('apiservers: the names that answered; unavailable without bash', () => {
    expect(parseApiservers(['ok m1', 'ok m3'])).toEqual(['m1', 'm3']);
    expect(parseApiservers([])).toEqual([]);
    expect(parseApiservers(['unavailable'])).toBeNull();
    expect(() => parseApiservers(['bash: connect: Connection refused'])).toThrow(/expected "ok NAME"/);
  });

  it('directories: yes or no', () => {
    expect(parseDirectory('/var/lib/kha', ['yes'])).toEqual({ path: '/var/lib/kha', exists: true });
    expect(parseDirectory('/var/lib/kha', ['no'])).toEqual({ path: '/var/lib/kha', exists: false });
    expect(() => parseDirectory('/x', [])).toThrow(SectionError);
  });

  it('services: properties in any order; a unit that does not exist; systemd not answering', () => {
    expect(parseService('haproxy', ['ActiveState=active', 'MainPID=812', 'UnitFileState=enabled', 'LoadState=loaded', 'ActiveEnterTimestampMonotonic=9183452'])).toEqual({
      name: 'haproxy', present: true, active: 'active', enabled: 'enabled', mainPid: 812, startedAtMonotonicUs: 9183452,
    });
    expect(parseService('keepalived', ['MainPID=0', 'LoadState=masked', 'ActiveState=inactive', 'UnitFileState=masked', 'ActiveEnterTimestampMonotonic=0'])).toMatchObject({
      present: true, enabled: 'masked',
    });
    expect(parseService('x', [])).toMatchObject({ present: false, active: 'unknown' });
    expect(() => parseService('x', ['MainPID=0'])).toThrow(/LoadState or ActiveState missing/);
    expect(() => parseService('x', ['LoadState=loaded', 'ActiveState=active', 'MainPID=abc'])).toThrow(/MainPID is not a number/);
    expect(() => parseService('x', ['Failed to connect to bus: Host is down'])).toThrow(SectionError);
  });

  it('sysctls: a value (tabs kept), empty, or missing', () => {
    expect(parseSysctl(['value 1'])).toBe('1');
    expect(parseSysctl(['value 4096\t131072\t6291456'])).toBe('4096\t131072\t6291456');
    expect(parseSysctl(['value '])).toBe('');
    expect(parseSysctl(['missing'])).toBeNull();
    expect(() => parseSysctl(['sysctl: cannot stat /proc/sys/x'])).toThrow(SectionError);
  });
});

describe('parseProbe', () => {
  const req: ProbeRequest = { vip: '10.77.0.10', files: ['/etc/x'], directories: [], services: [], sysctls: [], selinuxBooleans: [], apiservers: [] };
  const minimal = [
    '@@kha:os-release@@', 'ID=debian', '@@kha:uid@@', '0', '@@kha:init@@', 'run-systemd yes', '@@kha:package-managers@@', 'apt-get',
    '@@kha:selinux@@', '@@kha:route@@', '@@kha:firewalld@@', 'installed no', '@@kha:links@@', '@@kha:addresses@@',
    '@@kha:package keepalived@@', '@@kha:package haproxy@@', '@@kha:file /etc/x@@', 'missing', '@@kha:file-contents@@', '@@kha:apiservers@@', '@@kha:end@@', '',
  ].join('\n');

  it('reads a minimal output', () => {
    expect(parseProbe('lb1', minimal, req)).toMatchObject({ host: 'lb1', os: { family: 'debian' }, packageManager: 'apt', routeToVip: null });
  });

  it('names the host and the section when a section is garbage', () => {
    const err = (() => {
      try {
        parseProbe('lb1', minimal.replace('@@kha:uid@@\n0', '@@kha:uid@@\nroot'), req);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(HostError);
    expect(err).toMatchObject({ host: 'lb1', step: 'facts' });
    expect((err as Error).message).toMatch(/section "uid": expected one numeric uid/);
  });

  it('refuses a truncated output and a section missing for a requested item', () => {
    expect(() => parseProbe('lb1', minimal.replace('@@kha:end@@\n', ''), req)).toThrow(/section "end": missing from the output/);
    expect(() => parseProbe('lb1', minimal, { ...req, files: ['/etc/y'] })).toThrow(/section "file \/etc\/y": missing/);
    expect(() => parseProbe('lb1', '', req)).toThrow(HostError);
  });

  it('needs firewalld lists only when firewalld runs', () => {
    const running = minimal.replace('installed no', 'installed yes\nstate running\ndefault-zone public\nzone public');
    expect(() => parseProbe('lb1', running, req)).toThrow(/section "firewalld-runtime": missing/);
  });
});
