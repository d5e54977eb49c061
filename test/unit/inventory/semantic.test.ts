import { describe, expect, it } from 'vitest';
import { hostsFileSchema, type HostsFile, type HostsFileInput } from '../../../src/inventory/schema.js';
import { defaultPriority, resolvePriorities, resolveVrrp, semanticFindings } from '../../../src/inventory/semantic.js';

/** A file with defaults applied, as semantic.ts receives it. */
function file(over: Partial<HostsFileInput> = {}): HostsFile {
  return hostsFileSchema.parse({
    cluster: { vip: '10.77.0.10/24' },
    lb: [
      { name: 'lb1', address: '10.77.0.11' },
      { name: 'lb2', address: '10.77.0.12' },
    ],
    masters: [{ name: 'm1', address: '10.77.0.21' }],
    ...over,
  });
}

const lbs = (...priorities: (number | undefined)[]) =>
  priorities.map((priority, i) => ({ name: `lb${i + 1}`, address: `10.77.0.${11 + i}`, ...(priority === undefined ? {} : { priority }) }));

describe('priorities', () => {
  it('default by order: 150, 100, 50 (closer beyond three)', () => {
    expect(resolvePriorities(file({ lb: lbs(undefined, undefined, undefined) }).lb!)).toEqual([150, 100, 50]);
    expect(resolvePriorities(file({ lb: lbs(undefined, undefined, undefined, undefined, undefined) }).lb!)).toEqual([150, 120, 90, 60, 30]);
  });

  it('keep explicit ones and step a default down past them', () => {
    expect(resolvePriorities(file({ lb: lbs(undefined, 150, undefined) }).lb!)).toEqual([149, 150, 50]);
    expect(resolvePriorities(file({ lb: lbs(100, undefined) }).lb!)).toEqual([100, 99]);
    expect(resolvePriorities(file({ lb: lbs(undefined, 150, 149) }).lb!)).toEqual([148, 150, 149]);
  });

  it('never give two hosts one priority, so there is exactly one primary', () => {
    const resolved = resolvePriorities(file({ lb: lbs(undefined, 125, undefined, 100, undefined, 150) }).lb!);
    expect(new Set(resolved).size).toBe(resolved.length);
    expect(resolved.filter((p) => p === Math.max(...resolved))).toHaveLength(1);
    expect(resolved).toEqual([149, 125, 99, 100, 50, 150]);
  });

  it('defaultPriority skips what is taken', () => {
    expect(defaultPriority(0, 3, new Set())).toBe(150);
    expect(defaultPriority(2, 3, new Set([50, 49]))).toBe(48);
  });

  it('explicit duplicates are an error at the second one', () => {
    expect(semanticFindings(file({ lb: lbs(120, 120) }), {})).toEqual([
      {
        path: ['lb', 1, 'priority'],
        atKey: false,
        message:
          "priority 120 is also lb[0]'s (lb1); priorities must differ so that exactly one host is the primary: change one, or leave priority out to number them by order",
      },
    ]);
  });
});

describe('resolveVrrp', () => {
  const k = (keepalived: HostsFileInput['keepalived']) => file({ keepalived }).keepalived;

  it('defaults to VRRPv3 with 0.1 s adverts (bench/failover.mjs --adverts, README "How fast")', () => {
    expect(resolveVrrp(k({}))).toEqual({ version: 3, advertInt: 0.1 });
  });

  it('auth_pass means VRRPv2 with 1 s adverts', () => {
    expect(resolveVrrp(k({ auth_pass: 'env:KHA_VRRP_PASS' }))).toEqual({ version: 2, advertInt: 1 });
    expect(resolveVrrp(k({ auth_pass: 'short' }))).toEqual({ version: 2, advertInt: 1 });
  });

  it('keeps an explicit advert_int and version', () => {
    expect(resolveVrrp(k({ advert_int: 0.1 }))).toEqual({ version: 3, advertInt: 0.1 });
    expect(resolveVrrp(k({ auth_pass: 'short', advert_int: 3 }))).toEqual({ version: 2, advertInt: 3 });
    expect(resolveVrrp(k({ vrrp_version: 2 }))).toEqual({ version: 2, advertInt: 1 });
  });
});

describe('semanticFindings', () => {
  it('finds nothing in a good file', () => {
    expect(semanticFindings(file(), {})).toEqual([]);
  });

  it('refuses auth_pass with a sub-second advert_int once, explaining the choice', () => {
    const findings = semanticFindings(file({ keepalived: { auth_pass: 'short', advert_int: 0.5 } }), {});
    expect(findings).toHaveLength(1);
    expect(findings[0]!.path).toEqual(['keepalived', 'advert_int']);
    expect(findings[0]!.message).toMatch(/needs VRRPv3, which has no authentication, but auth_pass asks for VRRPv2/);
    expect(findings[0]!.message).toMatch(/Remove auth_pass for sub-second failover/);
  });

  it('checks an env: secret in the environment it is given, and never quotes its value', () => {
    const f = file({ keepalived: { auth_pass: 'env:KHA_TEST_PASS' } });
    expect(semanticFindings(f, { KHA_TEST_PASS: 'ok-pass' })).toEqual([]);
    expect(semanticFindings(f, { KHA_TEST_PASS: '' })[0]!.message).toMatch(/KHA_TEST_PASS is not set/);
    const long = semanticFindings(f, { KHA_TEST_PASS: 'much-too-long-secret' });
    expect(long[0]!.message).toBe('environment variable KHA_TEST_PASS holds 20 bytes; VRRP PASS authentication carries at most 8');
    expect(JSON.stringify(long)).not.toContain('much-too-long-secret');
  });

  it('a literal auth_pass of exactly 8 bytes is fine, 9 is not', () => {
    expect(semanticFindings(file({ keepalived: { auth_pass: '12345678' } }), {})).toEqual([]);
    expect(semanticFindings(file({ keepalived: { auth_pass: '123456789' } }), {})[0]!.message).toMatch(/^is 9 bytes;/);
  });

  it('counts auth_pass in bytes, as keepalived does: 8 characters of 2 bytes each are 16', () => {
    // The schema refuses non-ASCII before this check runs; the count must not depend on that.
    const f = file({ keepalived: { auth_pass: 'short' } });
    f.keepalived.auth_pass = 'éééééééé';
    expect(semanticFindings(f, {})[0]!.message).toMatch(/^is 16 bytes; VRRP PASS authentication carries at most 8 /);
  });

  it('reads only what the environment itself holds, not what every object inherits', () => {
    const env: NodeJS.ProcessEnv = { KHA_SET: 'pw' };
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const findings = semanticFindings(file({ keepalived: { auth_pass: `env:${name}` }, ssh: { sudo_password: `env:${name}` } }), env);
      expect(findings.map((x) => x.message)).toEqual([
        `environment variable ${name} is not set; export it before running kha (export ${name}=...)`,
        `environment variable ${name} is not set; export it before running kha (export ${name}=...)`,
      ]);
    }
    expect(semanticFindings(file({ keepalived: { auth_pass: 'env:constructor' } }), process.env).map((x) => x.message)).toEqual([
      'environment variable constructor is not set; export it before running kha (export constructor=...)',
    ]);
  });

  it('refuses a line break in any env: secret, naming the variable and never quoting the value', () => {
    const f = file({
      keepalived: { auth_pass: 'env:KHA_A' },
      ssh: { sudo_password: 'env:KHA_B' },
      lb: [
        { name: 'lb1', address: '10.77.0.11', ssh: { sudo_password: 'env:KHA_C' } },
        { name: 'lb2', address: '10.77.0.12' },
      ],
      masters: [{ name: 'm1', address: '10.77.0.21', ssh: { sudo_password: 'env:KHA_D' } }],
    });
    const findings = semanticFindings(f, { KHA_A: 'vrrp-pw\n', KHA_B: 'sudo-pw\n', KHA_C: 'sudo-pw\r', KHA_D: 'sudo\r\npw' });
    expect(findings.map((x) => [x.path.join('.'), x.message.split(' holds ')[0]])).toEqual([
      ['keepalived.auth_pass', 'environment variable KHA_A'],
      ['ssh.sudo_password', 'environment variable KHA_B'],
      ['lb.0.ssh.sudo_password', 'environment variable KHA_C'],
      ['masters.0.ssh.sudo_password', 'environment variable KHA_D'],
    ]);
    for (const x of findings) expect(x.message).toMatch(/ holds a line break \(CR or LF\)/);
    expect(JSON.stringify(findings)).not.toMatch(/vrrp-pw|sudo-pw|sudo\\r/);
  });

  it('refuses an env: auth_pass that keepalived.conf cannot carry as one word', () => {
    const f = file({ keepalived: { auth_pass: 'env:KHA_A' } });
    for (const secret of ['a b', '}', 'a}b{', '"pw', "pw'", '#pw', 'pw!', '$_PWD', 'pw\\', 'pw\t', 'éééééééé']) {
      const findings = semanticFindings(f, { KHA_A: secret });
      expect(findings, secret).toHaveLength(1);
      expect(findings[0]!.message, secret).toMatch(/^environment variable KHA_A holds a character auth_pass cannot carry: only printable ASCII without spaces, quotes, braces/);
    }
    expect(semanticFindings(f, { KHA_A: 'Az09%&()' })).toEqual([]);
    expect(semanticFindings(f, { KHA_A: '*+,./:;<' })).toEqual([]);
    expect(semanticFindings(f, { KHA_A: '=>?@[]^_' })).toEqual([]);
    expect(semanticFindings(f, { KHA_A: '`|~-' })).toEqual([]);
  });

  it('shortens an env: name too long to repeat', () => {
    const name = `K${'A'.repeat(5000)}`;
    const [finding] = semanticFindings(file({ keepalived: { auth_pass: `env:${name}` } }), {});
    expect(finding!.message).toBe(
      `environment variable K${'A'.repeat(59)}… (5001 characters) is not set; export it before running kha (export K${'A'.repeat(59)}… (5001 characters)=...)`,
    );
  });

  it('a host in both lists with the same name and address is colocated, not a duplicate', () => {
    const colocated = { lb: lbs(undefined, undefined), masters: [{ name: 'lb1', address: '10.77.0.11' }] };
    expect(semanticFindings(file({ ...colocated, cluster: { vip: '10.77.0.10/24', port: 8443 } }), {})).toEqual([]);
    expect(semanticFindings(file(colocated), {}).map((x) => x.path)).toEqual([['masters', 0, 'apiserver_port']]);
  });

  it('a VIP in a /31 may be either address that no host owns; the network/broadcast rule is for /30 and wider', () => {
    const f = file({ cluster: { vip: '10.77.0.10/31' }, lb: [{ name: 'lb1', address: '10.77.0.11' }, { name: 'lb2', address: '10.77.0.11' }] });
    expect(semanticFindings(f, {}).map((x) => x.path)).toEqual([['lb', 1, 'address']]);
    const net = file({ cluster: { vip: '10.77.0.8/30' }, lb: [{ name: 'lb1', address: '10.77.0.9' }, { name: 'lb2', address: '10.77.0.10' }] });
    expect(semanticFindings(net, {})[0]!.message).toBe('10.77.0.8 is the network address of 10.77.0.8/30; choose a free host address in that subnet');
  });
});
