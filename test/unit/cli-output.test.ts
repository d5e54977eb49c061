import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';
import { Secret } from '../../src/secret.js';
import { runKha, tempDirForFile } from './cli-harness.js';

// What every command prints at its edges: JSON for every outcome under
// --json, known secrets redacted whatever printed them, and a reader that
// goes away (`| head`) ends nothing with a stack trace.

const tmp = tempDirForFile('cli-output');

const kha = (...args: string[]) => runKha(args, {});

const BAD = 'cluster:\n  vip: 10.77.0.10/24\nlb:\n  - name: lb1\n    address: 10.77.0.300\n  - name: lb2\n    address: 10.77.0.12\nmasters:\n  - name: m1\n    address: 10.77.0.21\n';

describe('--json speaks JSON for every outcome', () => {
  it.each([
    ['validate', []],
    ['render', ['--out', 'OUT']],
    ['apply', []],
    ['status', []],
    ['verify-failover', []],
  ])('%s on a bad hosts.yaml: one JSON object with the located problem, exit 2', async (command, extra) => {
    const file = join(tmp.path, 'bad.yaml');
    writeFileSync(file, BAD);
    const r = await kha(command, file, ...extra.map((a) => (a === 'OUT' ? join(tmp.path, 'out') : a)), '--json');
    expect(r.code).toBe(2);
    const body = JSON.parse(r.stdout) as { ok: boolean; errors: { line: number; path: string }[] };
    expect(body.ok).toBe(false);
    expect(body.errors).toEqual([expect.objectContaining({ line: 5, path: 'lb[0].address' })]);
    expect(r.stderr).toBe('');
  });

  it('a usage error too', async () => {
    const r = await kha('render', join(tmp.path, 'x.yaml'), '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exit_code: 2, error: expect.stringContaining("required option '-o, --out <dir>'") });
  });

  it('a missing file too', async () => {
    const r = await kha('status', join(tmp.path, 'missing.yaml'), '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exit_code: 2 });
  });
});

describe('secrets on the way out', () => {
  it('a known secret is redacted in whatever kha prints, text and --json', async () => {
    new Secret('Zq9-cli-output-secret', 'test');
    const file = join(tmp.path, 'Zq9-cli-output-secret.yaml');
    writeFileSync(file, BAD);
    for (const flags of [[], ['--json']]) {
      const r = await kha('validate', file, ...flags);
      expect(r.stdout + r.stderr).not.toContain('Zq9-cli-output-secret');
      expect(r.stdout + r.stderr).toContain('<redacted>.yaml');
    }
  });
});

describe('a reader that goes away', () => {
  const KHA = join(packageRoot, 'bin', 'kha.js');
  it.each([
    ['schema', ''],
    ['validate', join(packageRoot, 'examples', 'hosts.yaml')],
    ['validate --json', join(packageRoot, 'examples', 'hosts.yaml')],
  ])('kha %s | true: no stack trace, kha ends as it would have', (command, file) => {
    // `true` exits before node has started, so kha's first write meets a closed pipe.
    const r = spawnSync('bash', ['-c', `node ${KHA} ${command} ${file} | true; echo "exit \${PIPESTATUS[0]}" >&2`], { encoding: 'utf8' });
    expect(r.stderr).toBe('exit 0\n');
  });
});
