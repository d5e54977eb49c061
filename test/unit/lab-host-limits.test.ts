import { describe, expect, it } from 'vitest';
import { inotifyInstancesNeeded, INSTANCES_PER_MACHINE } from '../../src/lab/host-limits.js';
import { LIMITS } from '../../src/lab/state.js';

describe('inotifyInstancesNeeded', () => {
  it('starts from the kernel default, kept for the host itself', () => {
    expect(inotifyInstancesNeeded(0)).toBe(128);
  });

  it('grows with every machine, since all of them count against root', () => {
    expect(inotifyInstancesNeeded(55) - inotifyInstancesNeeded(54)).toBe(INSTANCES_PER_MACHINE);
  });

  it('covers the largest lab with room to spare', () => {
    const largest = LIMITS.lbs + LIMITS.masters + LIMITS.workers;
    expect(inotifyInstancesNeeded(largest)).toBeGreaterThanOrEqual(128 + 8 * largest * 2);
  });
});
