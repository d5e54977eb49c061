import { describe, expect, it } from 'vitest';
import { clockOffset } from '../../../src/observe/clock.js';
import { FakeSession } from '../../../src/transport/fake.js';

describe('a host\'s clock against the operator\'s', () => {
  it('reads the offset from the quickest of three clock round trips', async () => {
    const now = performance.timeOrigin + performance.now();
    const ahead = 5000;
    const clock = { command: 'date +%s%N', result: { stdout: `${BigInt(Math.round((now + ahead) * 1000)) * 1000n}\n` } };
    const session = new FakeSession('m1', [clock, clock, clock]);
    const { offsetMs, uncertaintyMs } = await clockOffset(session, 'probe-from');
    // The reading was taken before the calls: the offset is 5 s less the time they took.
    expect(offsetMs).toBeLessThanOrEqual(ahead);
    expect(offsetMs).toBeGreaterThan(ahead - 1000);
    expect(uncertaintyMs).toBeGreaterThanOrEqual(0);
    session.assertDone();
  });

  it('says which host cannot read its clock', async () => {
    const session = new FakeSession('m2', [{ command: 'date +%s%N', result: { code: 127, stderr: 'date: not found' } }]);
    await expect(clockOffset(session, 'probe-from')).rejects.toMatchObject({ host: 'm2', step: 'probe-from', message: expect.stringMatching(/cannot read its clock/) });
  });
});
