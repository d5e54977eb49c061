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
        '  keepalived: VRRPv3, adverts every 0.2 s, unicast, router id 51\n' +
        '  primary: lb1 (priority 150); backups: lb2 (140)\n',
    );
    expect(r.code).toBe(0);
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
          { name: 'lb2', address: '10.77.0.12', priority: 140, primary: false },
        ],
        masters: [{ name: 'm1', address: '10.77.0.21', apiserver_port: 6443 }],
        vip: '10.77.0.10/32',
        port: 6443,
        vrrp_version: 3,
        advert_int: 0.2,
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
