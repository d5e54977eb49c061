import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { MAX_FILE_BYTES } from '../../src/inventory/load.js';

// `kha validate` on input that is generated rather than committed (too big,
// not UTF-8, not a file), and the shape of its output. Every bad case must
// end in exit 2 with located lines, never a stack trace.

const SHAPE_LATER = '; checks across values (subnet, priorities, duplicates, secrets) run once these are fixed';
const SYNTAX_LATER = '; the keys and values are checked once the YAML parses';

const HEAD = 'cluster:\n  vip: 10.77.0.10/24\n';
const LBS = 'lb:\n  - name: lb1\n    address: 10.77.0.11\n  - name: lb2\n    address: 10.77.0.12\n';
const MASTERS = 'masters:\n  - name: m1\n    address: 10.77.0.21\n';
const GOOD = HEAD + LBS + MASTERS;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kha-validate-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: string | Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

async function validate(file: string, ...flags: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'kha', 'validate', file, ...flags], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) }, {});
  // No case may end in a stack trace, whatever its exit code.
  expect(stderr + stdout).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
  return { code, stdout, stderr };
}

/** n nodes, block style, each with `extra` lines after its address. */
const nodeLines = (n: number, extra: string) =>
  Array.from({ length: n }, (_, i) => `  - name: w${i + 1}\n    address: 10.78.${Math.floor(i / 250)}.${(i % 250) + 1}\n${extra}`).join('');

async function expectLines(file: string, lines: string[]) {
  const r = await validate(file);
  expect(r.stderr).toBe(lines.map((l) => `${l}\n`).join(''));
  expect(r.stdout).toBe('');
  expect(r.code).toBe(2);
}

describe('kha validate on generated bad input', () => {
  it('200 load balancers: says how many kha supports, at the list', async () => {
    const lbs = Array.from({ length: 200 }, (_, i) => `  - name: lb${i + 1}\n    address: 10.77.${Math.floor(i / 200)}.${i + 11}\n`);
    const file = write('200-lbs.yaml', `${HEAD}lb:\n${lbs.join('')}${MASTERS}`);
    await expectLines(file, [
      `${file}:4:3 lb: has 200 load balancers; kha supports at most 10 in one VRRP group (every one sends adverts to every other)`,
      `${file} is not valid: 1 problem${SHAPE_LATER}`,
    ]);
  });

  it('501 nodes: says how many kha supports, at the list', async () => {
    const file = write('501-nodes.yaml', `${GOOD}nodes:\n${nodeLines(501, '')}`);
    await expectLines(file, [`${file}:12:3 nodes: has 501 nodes; kha supports at most 500`, `${file} is not valid: 1 problem${SHAPE_LATER}`]);
  });

  it('bytes that are not UTF-8: the line, column and byte', async () => {
    const text = Buffer.from(`${HEAD}  dns_name: api.`, 'utf8');
    const file = write('latin1.yaml', Buffer.concat([text, Buffer.from([0xe9]), Buffer.from(`.example\n${LBS}${MASTERS}`)]));
    await expectLines(file, [
      `${file}:3:17 is not valid UTF-8 (byte 0xe9 at offset ${text.length}); save it as UTF-8`,
      `${file} is not valid: 1 problem`,
    ]);
  });

  it('a 10 MB file: refused before it is read', async () => {
    const file = write('huge.yaml', `${GOOD}${'# padding\n'.repeat(1024 * 1024)}`);
    expect(readFileSync(file).length).toBeGreaterThan(MAX_FILE_BYTES * 10 - 1);
    await expectLines(file, [
      `${file}:1:1 is 10.0 MiB; a hosts file is a few KiB, at most 1 MiB: is this the right file (huge.yaml)?`,
      `${file} is not valid: 1 problem`,
    ]);
  });

  it('a missing file', async () => {
    const file = join(dir, 'nope.yaml');
    await expectLines(file, [
      `${file}:1:1 does not exist; create it (kha setup, or copy examples/hosts.yaml)`,
      `${file} is not valid: 1 problem`,
    ]);
  });

  it('a directory', async () => {
    const sub = join(dir, 'hosts.d');
    mkdirSync(sub);
    await expectLines(sub, [`${sub}:1:1 is a directory; give the path of hosts.yaml`, `${sub} is not valid: 1 problem`]);
  });

  it('aliases that expand without end ("billion laughs"): refused, not expanded', async () => {
    const rows = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [name, prev] of [['b', 'a'], ['c', 'b'], ['d', 'c']] as const) rows.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    const file = write('laughs.yaml', `${rows.join('\n')}\n`);
    await expectLines(file, [
      `${file}:1:1 YAML: aliases expand to more than 100 copies; a hosts file needs only a few, so this looks like a file made to exhaust memory`,
      `${file} is not valid: 1 problem${SYNTAX_LATER}`,
    ]);
  });
});

describe('kha validate on good input', () => {
  it('reads CRLF line endings and a byte order mark', async () => {
    const file = write('windows.yaml', `\ufeff${GOOD.replace(/\n/g, '\r\n')}`);
    const r = await validate(file);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('prints a summary for people', async () => {
    const file = write('good.yaml', GOOD);
    const r = await validate(file);
    expect(r.stdout).toBe(
      `${file} is valid: 2 load balancers, 1 master, VIP 10.77.0.10/24 on port 6443\n` +
        '  keepalived: VRRPv3, adverts every 0.1 s, unicast, router id 51\n' +
        '  primary: lb1 (priority 150); backups: lb2 (100)\n',
    );
    expect(r.code).toBe(0);
  });

  it('names the nodes and their proxy in the summary', async () => {
    const file = write('nodes.yaml', `${GOOD}nodes:\n${nodeLines(2, '')}node_proxy:\n  software: nginx\n  port: 7443\n  masters: true\n`);
    const r = await validate(file);
    expect(r.stdout).toContain(`${file} is valid: 2 load balancers, 1 master, 2 nodes, VIP 10.77.0.10/24 on port 6443\n`);
    expect(r.stdout).toContain('  node proxy: nginx on 127.0.0.1:7443 to every apiserver, health on 127.0.0.1:8405, on every master and 2 nodes (3 hosts)\n');
    expect(r.stdout).toContain("  note: kha apply installs and runs the local proxy on these hosts; the kubelet's kubeconfig is pointed at it only with node_proxy.kubelet: true");
    const json = JSON.parse((await validate(file, '--json')).stdout) as { summary: Record<string, unknown> };
    expect(json.summary.nodes).toEqual([
      { name: 'w1', address: '10.78.0.1' },
      { name: 'w2', address: '10.78.0.2' },
    ]);
    expect(json.summary.node_proxy).toEqual({ software: 'nginx', port: 7443, health_port: 8405, masters: true, hosts: ['m1', 'w1', 'w2'] });
  });

  it('the largest fleet kha takes, every key written on every host, passes the parser\'s bounds quickly', async () => {
    // 10 load balancers, 64 masters and 500 nodes, each with every ssh key:
    // the file the bounds of inventory/yaml.ts must hold (MAX_TOKENS, MAX_ENTRIES).
    const ssh = (indent: string) =>
      `${indent}ssh:\n${['user: ops', 'port: 22', 'identity_file: ~/.ssh/id', 'known_hosts: ~/.ssh/kh', 'sudo: true', 'sudo_password: env:KHA_P', 'jump: 10.0.0.1', 'connect_timeout: 10'].map((l) => `${indent}  ${l}\n`).join('')}`;
    const lbs = Array.from({ length: 10 }, (_, i) => `  - name: lb${i}\n    address: 10.77.0.${i + 11}\n    interface: eth0\n    priority: ${200 - i}\n${ssh('    ')}`);
    const masters = Array.from({ length: 64 }, (_, i) => `  - name: m${i}\n    address: 10.77.1.${i + 1}\n    apiserver_port: 6443\n${ssh('    ')}`);
    const text = `${HEAD}lb:\n${lbs.join('')}masters:\n${masters.join('')}nodes:\n${nodeLines(500, ssh('    '))}node_proxy:\n  port: 7443\n  software: haproxy\n  health_port: 8405\n  masters: true\n`;
    const file = write('fleet.yaml', text);
    let stderr = '';
    const start = performance.now();
    const code = await main(['node', 'kha', 'validate', file], { stdout: () => undefined, stderr: (t) => (stderr += t) }, { KHA_P: 'pw' });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(performance.now() - start).toBeLessThan(3000);
  });

  it('--json: ok, file, summary and notes, and nothing on stderr', async () => {
    const file = write('good-json.yaml', GOOD.replace('10.77.0.10/24', '10.77.0.10'));
    const r = await validate(file, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: true,
      file,
      summary: {
        load_balancers: [
          { name: 'lb1', address: '10.77.0.11', priority: 150, primary: true },
          { name: 'lb2', address: '10.77.0.12', priority: 100, primary: false },
        ],
        masters: [{ name: 'm1', address: '10.77.0.21', apiserver_port: 6443 }],
        nodes: [],
        vip: '10.77.0.10/32',
        port: 6443,
        vrrp_version: 3,
        advert_int: 0.1,
      },
      notes: ['cluster.vip has no prefix: the VIP is added as 10.77.0.10/32, and its subnet is checked on the hosts at apply time.'],
    });
  });
});

describe('kha validate --json on a bad file', () => {
  it('is { ok: false, file, errors: [{ file, line, column, path, message }] }, every error in file order', async () => {
    const file = write('two-problems.yaml', `${HEAD}  prot: 6443\n${LBS}masters:\n  - name: m1\n    address: m1.example\n`);
    const r = await validate(file, '--json');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      file,
      errors: [
        { file, line: 3, column: 3, path: 'cluster.prot', message: "unknown key 'prot'; did you mean 'port'?" },
        {
          file,
          line: 11,
          column: 14,
          path: 'masters[0].address',
          message:
            "'m1.example' is a hostname; kha needs an IPv4 address here, because keepalived peers and haproxy servers are configured by address (resolve it and write the address)",
        },
      ],
    });
  });
});

describe('kha validate usage', () => {
  it('without a file: exit 2 and a usage hint', async () => {
    let stderr = '';
    const code = await main(['node', 'kha', 'validate'], { stdout: () => {}, stderr: (t) => (stderr += t) }, {});
    expect(code).toBe(2);
    expect(stderr).toContain("missing required argument 'hosts.yaml'");
  });
});
