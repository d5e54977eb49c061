import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

// Unit tests never touch the real home directory: a path that falls back to
// ~/.ssh (the wizard's default known_hosts, an identity file) lands in a
// home of the test file's own, removed afterwards.
const home = mkdtempSync(join(tmpdir(), 'kha-home-'));
process.env.HOME = home;
afterAll(() => rmSync(home, { recursive: true, force: true }));
