import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { loadInventoryFile, MAX_FILE_BYTES, parseInventory, requireInventory, type LoadResult } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';

const GOOD = `cluster:
  vip: 10.77.0.10/24
lb:
  - name: lb1
    address: 10.77.0.11
  - name: lb2
    address: 10.77.0.12
    priority: 150
masters:
  - name: m1
    address: 10.77.0.21
`;

function inventory(r: LoadResult): Inventory {
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

describe('parseInventory', () => {
  it('says at which stage it stopped, so that validate can say what is still unchecked', () => {
    const stage = (text: string) => {
      const r = parseInventory(text, 'hosts.yaml', {});
      return r.ok ? 'ok' : r.stage;
    };
    expect(stage('')).toBe('file');
    expect(stage('# nothing\n')).toBe('file');
    expect(stage('cluster:\n\tvip: 10.77.0.10\n')).toBe('syntax');
    expect(stage(`${GOOD}---\n${GOOD}`)).toBe('syntax');
    expect(stage('- a\n')).toBe('shape');
    expect(stage(GOOD.replace('vip: 10.77.0.10/24', 'vip: 10.77.0.10/33'))).toBe('shape');
    expect(stage(GOOD.replace('10.77.0.21', '10.77.0.11'))).toBe('semantic');
    expect(stage(GOOD)).toBe('ok');
  });

  it('resolves priorities and the one primary: explicit 150 wins, the default steps down past it', () => {
    const inv = inventory(parseInventory(GOOD, 'hosts.yaml', {}));
    expect(inv.lbs.map((h) => [h.name, h.priority, h.primary])).toEqual([
      ['lb1', 149, false],
      ['lb2', 150, true],
    ]);
  });

  it('keeps secrets out of every printable form of the inventory', () => {
    const text = `${GOOD}keepalived:\n  auth_pass: pw8chars\nssh:\n  user: ops\n  sudo: true\n  sudo_password: env:KHA_SUDO\n`;
    const inv = inventory(parseInventory(text, 'hosts.yaml', { KHA_SUDO: 'sudo-secret-value' }));
    expect(inv.keepalived.authPass?.reveal()).toBe('pw8chars');
    expect(inv.lbs[0]!.ssh.sudoPassword?.reveal()).toBe('sudo-secret-value');
    for (const printed of [JSON.stringify(inv), inspect(inv, { depth: 20 }), String(inv.keepalived.authPass)]) {
      expect(printed).not.toContain('pw8chars');
      expect(printed).not.toContain('sudo-secret-value');
    }
    expect(inv.notes[0]).toMatch(/^auth_pass is set, so VRRPv2 with whole-second adverts \(advert_int 1 s\)/);
  });

  it('reads anchors, aliases and merge keys, a host overriding what it merges', () => {
    const text = `cluster:
  vip: 10.77.0.10/24
ssh: &ops
  user: ops
  port: 22
lb:
  - name: lb1
    address: 10.77.0.11
    ssh: *ops
  - name: lb2
    address: 10.77.0.12
    ssh:
      <<: *ops
      port: 2222
masters:
  - name: m1
    address: 10.77.0.21
`;
    const inv = inventory(parseInventory(text, 'hosts.yaml', {}));
    expect(inv.lbs.map((h) => [h.ssh.user, h.ssh.port])).toEqual([
      ['ops', 22],
      ['ops', 2222],
    ]);
  });

  it('points a problem in an anchored value at the anchor, for every host that uses it', () => {
    const text = `cluster:
  vip: 10.77.0.10/24
ssh: &ops
  user: "o p s"
lb:
  - name: lb1
    address: 10.77.0.11
    ssh: *ops
  - name: lb2
    address: 10.77.0.12
    ssh:
      <<: *ops
masters:
  - name: m1
    address: 10.77.0.21
`;
    const r = parseInventory(text, 'hosts.yaml', {});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => `${p.line}:${p.column} ${p.path}`)).toEqual(['4:9 ssh.user', '4:9 lb[0].ssh.user', '4:9 lb[1].ssh.user']);
  });
});

/** The problems of a file that must be refused. */
function refused(text: string): { stage: string; lines: string[] } {
  const r = parseInventory(text, 'hosts.yaml', {});
  if (r.ok) throw new Error('expected problems');
  return { stage: r.stage, lines: r.problems.map((p) => `${p.line}:${p.column} ${p.path ? `${p.path}: ` : ''}${p.message}`) };
}

const TOO_MANY_TOKENS = 'YAML: holds more than 30000 keys, values and punctuation marks by here; a hosts file has a few thousand at most, so this is not one';
const TOO_DEEP = 'YAML: nests deeper than 40 levels here; a hosts file nests four, so this is not one';

describe('input made to be slow or to exhaust the parser', () => {
  // Each used to take time in the square of its size (40,000 keys: over 20 s),
  // or ended the process. Every one must end with one located problem. Speed
  // is the benchmarks' to measure; the one bound kept here is ten times what
  // a linear pass needs on a loaded machine and half what the quadratic one
  // took, so it fails on that regression, not on a busy CI box.
  const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${i}: 1\n`).join('');

  it.each([40_000, 100_000])('%i top-level keys: refused where the 30,000th piece is passed, before parsing', async (n) => {
    const dir = mkdtempSync(join(tmpdir(), 'kha-keys-'));
    try {
      const file = join(dir, 'hosts.yaml');
      writeFileSync(file, keys(n));
      expect(keys(n).length).toBeLessThanOrEqual(MAX_FILE_BYTES);
      const start = performance.now();
      const r = await loadInventoryFile(file, {});
      expect(performance.now() - start).toBeLessThan(10_000);
      expect(r).toEqual({ ok: false, stage: 'file', problems: [{ file, line: 10_001, column: 1, path: '', message: TOO_MANY_TOKENS }] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the same keys in one flow map, or list items: the same, at the piece past the limit', () => {
    // x : { then four pieces a key (k, :, 1 and a comma): the 30,001st is the colon after k7499.
    const flow = `x: {${Array.from({ length: 20_000 }, (_, i) => `k${i}: 1`).join(', ')}}\n`;
    expect(refused(flow).lines).toEqual([`1:${flow.indexOf('k7499:') + 6} ${TOO_MANY_TOKENS}`]);
    expect(refused(`x:\n${'  - 1\n'.repeat(20_000)}`).lines).toEqual([`15001:3 ${TOO_MANY_TOKENS}`]);
  });

  it('9,000 unknown keys, within the limits: every one reported where it is', () => {
    const r = refused(`${GOOD}${keys(9_000)}`);
    expect(r.stage).toBe('shape');
    expect(r.lines).toHaveLength(9_000);
    expect(r.lines[8_999]).toBe(
      "9011:1 k8999: unknown key 'k8999'; keys allowed here: $schema, cluster, ssh, keepalived, haproxy, security, drills, static_pods, operator, lb, masters, nodes, node_proxy, kubelet",
    );
  });

  it('a map repeated by aliases past 10,000 entries: refused at the alias that passes it, before converting', () => {
    const big = `big: &big {${Array.from({ length: 2_000 }, (_, i) => `k${i}: 1`).join(', ')}}\n`;
    const r = refused(`${big}copies: [${Array(10).fill('*big').join(', ')}]\n`);
    expect(r.stage).toBe('file');
    expect(r.lines).toEqual([
      `2:${'copies: [*big, *big, *big, '.length + 1} YAML: holds more than 10000 keys and list items by here, counting what aliases repeat; a hosts file has about a thousand at most, so this is not one`,
    ]);
  });

  it('thousands of unclosed pieces: each error points where its piece opened, in one pass', () => {
    const r = refused(`x: [${'"a" "b", '.repeat(4_900)}]\n`);
    expect(r.stage).toBe('syntax');
    expect(r.lines).toHaveLength(4_900);
  });

  it('nesting deeper than any hosts file: refused before the parser recurses that deep, whatever the form', () => {
    expect(refused(`a: ${'['.repeat(1_000)}${']'.repeat(1_000)}\n`)).toMatchObject({ stage: 'file', lines: [`1:43 ${TOO_DEEP}`] });
    expect(refused(`a: ${'{b: '.repeat(1_000)}1${'}'.repeat(1_000)}\n`)).toMatchObject({ stage: 'file', lines: [`1:${4 + 39 * 4} ${TOO_DEEP}`] });
    expect(refused(`${'- '.repeat(5_000)}x\n`)).toMatchObject({ stage: 'file', lines: [`1:${1 + 40 * 2} ${TOO_DEEP}`] });
    // The parser itself recurses here, one level per key written without a comma; where its stack ends depends on the machine.
    const noCommas = refused(`x: {${Array.from({ length: 9_000 }, (_, i) => `k${i}: 1`).join(' ')}}\n`);
    expect(noCommas.stage).toBe('file');
    expect(noCommas.lines).toHaveLength(1);
    expect(noCommas.lines[0]!.replace(/^1:\d+ /, '')).toBe(TOO_DEEP);
  });

  it('a list used as a key: located there, and no warning from the parser reaches stderr', () => {
    const warn = vi.spyOn(process, 'emitWarning');
    try {
      expect(refused(`${GOOD}[a, b]: c\n`).lines).toEqual([
        '12:1 YAML: a list is used as a key here; a key is a name like port or lb: write the name before the colon',
      ]);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('a value or key of 100,000 characters is quoted by its first 60 and its length', () => {
    const long = 'x'.repeat(100_000);
    const shown = `${'x'.repeat(60)}… (100000 characters)`;
    expect(refused(GOOD.replace('vip: 10.77.0.10/24', `vip: 10.77.0.10/24\n  dns_name: ${long}`)).lines).toEqual([
      `3:13 cluster.dns_name: '${shown}' is not a DNS name; write labels of letters, digits and '-' separated by dots, like kubeapi.example.com`,
    ]);
    // A long key needs the explicit form: YAML allows 1,024 characters before an implicit key's colon.
    expect(refused(`${GOOD}? ${long}\n: 1\n`).lines).toEqual([
      `12:3 ${'x'.repeat(60)}…: unknown key '${shown}'; keys allowed here: $schema, cluster, ssh, keepalived, haproxy, security, drills, static_pods, operator, lb, masters, nodes, node_proxy, kubelet`,
    ]);
  });
});

describe('requireInventory', () => {
  it('throws an InputError (exit 2) with every problem, saying nothing was changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kha-require-'));
    try {
      const file = join(dir, 'hosts.yaml');
      writeFileSync(file, GOOD.replace('10.77.0.21', '10.77.0.11').replace('10.77.0.12', '10.78.0.12'));
      const err = await requireInventory(file, {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).exitCode).toBe(2);
      expect((err as InputError).message).toBe(`${file} is not valid: 2 problems; nothing was changed`);
      expect((err as InputError).problems.map((p) => p.path)).toEqual(['lb[1].address', 'masters[0].name']);
      writeFileSync(file, GOOD);
      expect((await requireInventory(file, {})).lbs).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
