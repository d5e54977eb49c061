import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { isCollection, parse, parseAllDocuments, visit } from 'yaml';
import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/inventory/locate.js';
import { jsonSchema } from '../../../src/inventory/schema.js';
import { schemaFile } from '../../../src/paths.js';
import { badDir, badFiles, CORPUS_ENV, goodDir, kha, repoRoot, stageOf } from './corpus.js';

// schema/hosts.schema.json is what editors check hosts.yaml with. It is made
// from the same zod definition as the validator, so it must be the current
// output, accept every good file and reject every file whose fault is one
// value's type, range or form (shape-*).
//
// It cannot reject the semantic-* files, and is expected not to: their values
// are each fine alone, and what is wrong is how they relate (the VIP and the
// hosts' subnet, duplicate names or priorities, auth_pass with a sub-second
// advert_int, ports on a host in both lists) or what the environment holds
// (env:VAR unset or too long). JSON Schema has no way to say either.
// syntax-* files are not one YAML document with keys JSON can hold, so there
// is nothing to hand it.

const committed = readFileSync(schemaFile, 'utf8');
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(JSON.parse(committed) as object);

const examplesDir = join(repoRoot, 'examples');
const yamlIn = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));
const goodFiles = [...yamlIn(examplesDir), ...yamlIn(goodDir)];

/** hosts.yaml as data, the way an editor's YAML plugin hands it to the schema (merge keys on). */
const data = (file: string): unknown => parse(readFileSync(file, 'utf8'), { merge: true });

function schemaErrors(file: string): string {
  return validate(data(file)) ? '' : JSON.stringify(validate.errors);
}

/** Whether the text is one YAML document that gives data (not nothing, not an error, no list or map as a key). */
function readableAsData(text: string): boolean {
  const docs = parseAllDocuments(text, { uniqueKeys: true, merge: true, logLevel: 'error' });
  if (!Array.isArray(docs) || docs.length !== 1) return false;
  const doc = docs[0]!;
  if (doc.errors.length > 0) return false;
  let collectionKey = false;
  visit(doc, {
    Pair(_, pair) {
      collectionKey ||= isCollection(pair.key);
    },
  });
  if (collectionKey) return false;
  try {
    return doc.toJS() !== null;
  } catch {
    return false;
  }
}

describe('schema/hosts.schema.json', () => {
  it('is the current output of the zod definition (run npm run build && npm run schema)', () => {
    expect(committed).toBe(`${JSON.stringify(jsonSchema(), null, 2)}\n`);
  });

  it('is what `kha schema` prints, the command npm run schema writes it with', async () => {
    const r = await kha(['schema']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(committed);
  });

  it('is a draft 2020-12 schema that describes every key', () => {
    const schema = JSON.parse(committed) as { $schema: string; properties: Record<string, { description?: string }> };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    for (const [key, sub] of Object.entries(schema.properties)) {
      expect(sub.description, key).toBeTruthy();
    }
  });

  it('has good files to accept: the examples and every topology in good/', () => {
    const names = goodFiles.map((f) => f.slice(repoRoot.length + 1));
    expect(names).toEqual(
      expect.arrayContaining([
        'examples/hosts.yaml',
        'test/unit/inventory/good/colocated-8443.yaml',
        'test/unit/inventory/good/vrrp2-auth-pass-env.yaml',
        'test/unit/inventory/good/minimal.yaml',
        'test/unit/inventory/good/multicast.yaml',
        'test/unit/inventory/good/preempt.yaml',
      ]),
    );
  });

  describe.each(goodFiles.map((f) => [f.slice(repoRoot.length + 1), f]))('good: %s', (_, file) => {
    it('is accepted by the JSON Schema', () => {
      expect(schemaErrors(file)).toBe('');
    });

    it('is valid for kha validate (exit 0)', async () => {
      const r = await kha(['validate', file], CORPUS_ENV);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    });
  });

  describe.each(badFiles.filter((f) => stageOf(f) === 'shape'))('shape-level bad file %s', (name) => {
    it('is rejected by the JSON Schema, at every key kha names', () => {
      expect(validate(data(join(badDir, name)))).toBe(false);
      // ajv names a missing or unknown key on its parent map; kha names the key itself, shown as its messages show keys.
      const schemaPaths = new Set(
        (validate.errors ?? []).map((e) => {
          const params = e.params as { additionalProperty?: string; missingProperty?: string };
          const key = params.additionalProperty ?? params.missingProperty;
          const parts = [...e.instancePath.split('/').slice(1), ...(key === undefined ? [] : [key])];
          return formatPath(parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p.replace(/~1/g, '/').replace(/~0/g, '~'))));
        }),
      );
      const expected = readFileSync(join(badDir, name.replace(/\.yaml$/, '.expected')), 'utf8').trimEnd().split('\n').slice(0, -1);
      // A path ends at the first ': ' (a key run into its value, `sudo_password:<redacted>`, holds a colon).
      const khaPaths = expected.map((line) => /^\S+ (\S+?): /.exec(line)?.[1] ?? '');
      for (const path of khaPaths) expect([...schemaPaths], `kha names '${path}'`).toContain(path);
    });
  });

  describe.each(badFiles.filter((f) => stageOf(f) === 'semantic'))('semantic bad file %s', (name) => {
    it('passes the JSON Schema, which cannot relate values or read the environment; kha validate catches it', () => {
      expect(schemaErrors(join(badDir, name))).toBe('');
    });
  });

  describe.each(badFiles.filter((f) => stageOf(f) === 'syntax'))('syntax-level bad file %s', (name) => {
    it('is not one YAML document that could be handed to the schema', () => {
      expect(readableAsData(readFileSync(join(badDir, name), 'utf8'))).toBe(false);
    });
  });

  it('is where examples/*.yaml point editors, with a yaml-language-server line', () => {
    for (const file of yamlIn(examplesDir)) {
      const first = readFileSync(file, 'utf8').split('\n')[0]!;
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m, `${file} must start with "# yaml-language-server: $schema=..."`).not.toBeNull();
      const target = resolve(dirname(file), m![1]!);
      expect(existsSync(target)).toBe(true);
      expect(target).toBe(schemaFile);
    }
  });
});
