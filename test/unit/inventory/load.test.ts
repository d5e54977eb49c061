import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { parseInventory, requireInventory, type LoadResult } from '../../../src/inventory/load.js';
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

  it('turns nesting too deep for the parser into one located problem, not a crash', () => {
    const r = parseInventory(`a: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, 'hosts.yaml', {});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.message).toBe('YAML: nested too deeply to read; a hosts file nests a few levels, so this is not one');
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
