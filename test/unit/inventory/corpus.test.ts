import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem, type Problem } from '../../../src/errors.js';
import { badDir, badFiles, CORPUS_ENV, kha, literalSecrets, repoRoot, stageOf } from './corpus.js';

// Every bad file runs through the real CLI (`kha validate FILE`, then with
// --json) and must print exactly its sibling .expected file on stderr (one
// `file:line:col path: message` line per problem, then the summary line),
// nothing on stdout, and exit 2. The prefix of each name says at which stage
// kha stops, and the summary line must agree:
//   syntax-   the text is not one YAML document kha can read
//   shape-    one value has the wrong type, range or form
//   semantic- every value is fine alone; together, or with the environment, they are not
// (schema.test.ts holds the JSON Schema to the same split.)
//
// After changing a message, rewrite the .expected files from the repository
// root and read every changed line before committing it:
//   npm run build && for f in test/unit/inventory/bad/*.yaml; do
//     env -i PATH="$PATH" KHA_BRACE_PASS='pw}x{' KHA_CR_SUDO=$'sudo-cr-pw\r' KHA_LONG_PASS=env-secret-too-long \
//       KHA_NEWLINE_PASS=$'vrrp-nl\n' KHA_NEWLINE_SUDO=$'sudo-nl-pw\n' KHA_SHORT_PASS=shortpw KHA_VRRP_PASS=vrrp8pw \
//       KHA_WIDE_PASS='éééééééé' node bin/kha.js validate "$f" 2> "${f%.yaml}.expected"; done
// (the values of CORPUS_ENV in corpus.ts)

describe('bad hosts.yaml corpus', () => {
  it('is run from the repository root, where the .expected paths are relative to', () => {
    expect(relative(repoRoot, process.cwd())).toBe('');
  });

  it('has at least 40 files, each named for its stage and with an .expected file', () => {
    expect(badFiles.length).toBeGreaterThanOrEqual(40);
    for (const f of badFiles) {
      expect(f).toMatch(/^(?:syntax|shape|semantic)-[a-z0-9-]+\.yaml$/);
      expect(readdirSync(badDir)).toContain(f.replace(/\.yaml$/, '.expected'));
    }
    expect(readdirSync(badDir).filter((f) => f.endsWith('.expected'))).toHaveLength(badFiles.length);
  });

  it('covers the secrets that must stay hidden: a long literal, a number, a long value in the environment', () => {
    const text = (f: string) => readFileSync(join(badDir, f), 'utf8');
    expect(literalSecrets(text('semantic-auth-pass-too-long.yaml'))).toEqual(['hunter2hunter2']);
    expect(literalSecrets(text('shape-auth-pass-number.yaml'))).toEqual(['73914682051']);
    expect(literalSecrets(text('shape-auth-pass-quote.yaml'))).toEqual(['"Hunt3r']);
    expect(text('semantic-auth-pass-env-too-long.yaml')).toContain('env:KHA_LONG_PASS');
  });

  it('covers secrets run into their key, which YAML reads as a string or a key name rather than a secret', () => {
    const text = (f: string) => readFileSync(join(badDir, f), 'utf8');
    expect(literalSecrets(text('shape-auth-pass-no-space-block.yaml'))).toEqual(['Hunt3r9x']);
    expect(literalSecrets(text('syntax-auth-pass-no-space-among-keys.yaml'))).toEqual(['Hunt3r9x']);
    expect(literalSecrets(text('shape-sudo-password-no-space-flow.yaml'))).toEqual(expect.arrayContaining(['Sup3rS3cret', 'M4st3rS3cret']));
    expect(literalSecrets(text('shape-secret-no-space-in-other-value.yaml'))).toEqual(['Dn5S3cret', 'Us3rS3cret']);
  });

  it('stops at the stage each name declares', () => {
    const SUFFIX = {
      syntax: /(?: problems?|; the keys and values are checked once the YAML parses)$/,
      shape: /; checks across values \(subnet, priorities, duplicates, secrets\) run once these are fixed$/,
      semantic: / problems?$/,
    };
    for (const name of badFiles) {
      const summary = readFileSync(join(badDir, name.replace(/\.yaml$/, '.expected')), 'utf8').trimEnd().split('\n').pop()!;
      expect(summary, name).toMatch(SUFFIX[stageOf(name)]);
    }
  });

  describe.each(badFiles)('%s', (name) => {
    const file = relative(process.cwd(), join(badDir, name));
    const expected = readFileSync(join(badDir, name.replace(/\.yaml$/, '.expected')), 'utf8');
    const secrets = [...literalSecrets(readFileSync(join(badDir, name), 'utf8')), ...Object.values(CORPUS_ENV).map(String)];

    it('prints exactly the expected lines on stderr and exits 2', async () => {
      const r = await kha(['validate', file]);
      expect(r.stderr).toBe(expected);
      expect(r.stdout).toBe('');
      expect(r.code).toBe(2);
      for (const s of secrets) expect(r.stderr).not.toContain(s);
    });

    it('gives the same problems under --json, and nothing else', async () => {
      const r = await kha(['validate', file, '--json']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('');
      const body = JSON.parse(r.stdout) as { ok: unknown; file: unknown; errors: Problem[] };
      expect(Object.keys(body)).toEqual(['ok', 'file', 'errors']);
      expect(body.ok).toBe(false);
      expect(body.file).toBe(file);
      for (const e of body.errors) {
        expect(Object.keys(e).sort()).toEqual(['column', 'file', 'line', 'message', 'path']);
        expect(e.file).toBe(file);
        expect(Number.isInteger(e.line) && e.line >= 1).toBe(true);
        expect(Number.isInteger(e.column) && e.column >= 1).toBe(true);
      }
      // The human lines are the JSON errors, one each, then the summary line.
      expect(body.errors.map(formatProblem)).toEqual(expected.split('\n').slice(0, -2));
      for (const s of secrets) expect(r.stdout).not.toContain(s);
    });
  });
});
