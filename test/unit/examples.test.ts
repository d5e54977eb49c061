import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';
import { runKha, tempDirForFile } from './cli-harness.js';

// What a new user tries first with an example: validate it, and see the files
// it would write without a host (render is offline).

const examples = readdirSync(join(packageRoot, 'examples')).filter((f) => f.endsWith('.yaml'));
const out = tempDirForFile('examples');

describe.each(examples)('examples/%s', (name) => {
  const file = join(packageRoot, 'examples', name);

  it('validates and renders offline', async () => {
    const v = await runKha(['validate', file]);
    expect(v.code, v.stderr).toBe(0);
    const r = await runKha(['render', file, '--out', join(out.path, name)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^rendered \d+ files for \d+ hosts into /m);
  });
});
