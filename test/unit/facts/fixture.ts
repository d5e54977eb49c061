import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseProbe } from '../../../src/facts/parse.js';
import type { HostFacts } from '../../../src/facts/types.js';
import { KHA_REQUEST } from './request.js';

export const FIXTURES = ['debian-12', 'ubuntu-22.04', 'ubuntu-24.04', 'rocky-9', 'rocky-8', 'rhel-9', 'centos-7'] as const;

/** A distribution's recorded facts, for tests of anything that plans on facts. */
export function fixtureFacts(name: (typeof FIXTURES)[number], host: string = name): HostFacts {
  return parseProbe(host, readFileSync(join(import.meta.dirname, 'fixtures', `${name}.txt`), 'utf8'), KHA_REQUEST);
}
