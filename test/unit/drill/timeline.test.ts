import { describe, expect, it } from 'vitest';
import { dualHolding, longestOutage, outages, summarize, vipTakeover, type Sample } from '../../../src/drill/timeline.js';

const s = (t: number, ok: boolean): Sample => ({ t, ms: 5, ok });

describe('client outages', () => {
  it('run from the first failed request to the next success', () => {
    const samples = [s(0, true), s(50, false), s(100, false), s(150, true), s(200, false), s(250, true)];
    expect(outages(samples, 300)).toEqual([
      { from: 50, to: 150, failed: 2 },
      { from: 200, to: 250, failed: 1 },
    ]);
    expect(longestOutage(samples, 300)).toEqual({ from: 50, to: 150, failed: 2 });
  });

  it('an outage that never ends lasts until the end of the drill', () => {
    expect(outages([s(0, true), s(50, false)], 1000)).toEqual([{ from: 50, to: 1000, failed: 1 }]);
  });

  it('a request that started before the failure but answered later does not close it', () => {
    expect(outages([s(100, false), s(100, true), s(180, true)], 500)).toEqual([{ from: 100, to: 180, failed: 1 }]);
  });
});

describe('VIP takeover', () => {
  it('is the first other host seen holding the VIP after the fault, and when the old one let go', () => {
    const vip = [
      { t: 0, host: 'lb1', holders: ['lb1'] },
      { t: 100, host: 'lb1', holders: ['lb1'] },
      { t: 200, host: 'lb1', holders: [] },
      { t: 300, host: 'lb2', holders: [] },
      { t: 400, host: 'lb2', holders: ['lb2'] },
    ];
    expect(vipTakeover(vip, 150)).toEqual({ from: 'lb1', to: 'lb2', takenAt: 400, lostAt: 200 });
  });

  it('after kill -9 the old holder keeps the VIP: two holders, counted as split brain', () => {
    const vip = [
      { t: 0, host: 'lb1', holders: ['lb1'] },
      { t: 100, host: 'lb2', holders: ['lb1', 'lb2'] },
      { t: 350, host: 'lb1', holders: ['lb1', 'lb2'] },
      { t: 400, host: 'lb2', holders: ['lb1', 'lb2'] },
      { t: 500, host: 'lb1', holders: ['lb2'] },
      { t: 550, host: 'lb2', holders: ['lb2'] },
    ];
    expect(vipTakeover(vip, 50)).toEqual({ from: 'lb1', to: 'lb2', takenAt: 100, lostAt: 500 });
    // lb1 was seen holding until 350, lb2 from 100: between 350 and 500 nobody knows.
    expect(dualHolding(vip)).toBe(250);
  });

  it('a handover whose answers crossed is not two holders: the old holder was last seen holding before the new one', () => {
    // haproxy-down on masters: lb2's "holds" arrived 1 ms before lb1's "released".
    const vip = [
      { t: 0, host: 'lb1', holders: ['lb1'] },
      { t: 40, host: 'lb2', holders: ['lb1'] },
      { t: 90, host: 'lb2', holders: ['lb1', 'lb2'] },
      { t: 91, host: 'lb1', holders: ['lb2'] },
      { t: 140, host: 'lb2', holders: ['lb2'] },
    ];
    expect(dualHolding(vip)).toBe(0);
  });

  it('a partition: both hosts keep answering "holds" — every bracketed moment counts, three hosts included', () => {
    const vip = [
      { t: 0, host: 'lb1', holders: ['lb1'] },
      { t: 100, host: 'lb2', holders: ['lb1', 'lb2'] },
      { t: 120, host: 'lb3', holders: ['lb1', 'lb2', 'lb3'] },
      { t: 150, host: 'lb1', holders: ['lb1', 'lb2', 'lb3'] },
      { t: 200, host: 'lb2', holders: ['lb1', 'lb2', 'lb3'] },
      { t: 220, host: 'lb3', holders: ['lb1', 'lb2'] },
      { t: 250, host: 'lb1', holders: ['lb2'] },
    ];
    // lb1 [0,150], lb2 [100,200], lb3 [120,120]: two or more from 100 to 150.
    expect(dualHolding(vip)).toBe(50);
  });

  it('nothing moved: no takeover', () => {
    expect(vipTakeover([{ t: 0, host: 'lb1', holders: ['lb1'] }, { t: 500, host: 'lb1', holders: ['lb1'] }], 100)).toBeUndefined();
  });

  it('summarize a drill', () => {
    const summary = summarize(
      {
        samples: [{ ...s(0, true), master: 'm2' }, s(60, false), { ...s(120, true), master: 'm1' }],
        // Done before the fault (not counted); waiting across it (counted); after it.
        defaultClient: [{ t: 0, ms: 10, ok: true }, { t: 40, ms: 1020, ok: true }, { t: 90, ms: 15, ok: false, error: 'ECONNRESET' }],
        vip: [{ t: 0, host: 'lb1', holders: ['lb1'] }, { t: 80, host: 'lb1', holders: ['lb2'] }],
        marks: [{ t: 50, what: 'fault', text: 'keepalived stopped on lb1' }],
        states: [],
        streams: [
          { name: 'held', kind: 'plain', connections: [{ openedAt: 0, events: [10, 40, 140, 190] }] },
          { name: 'reset', kind: 'plain', connections: [{ openedAt: 0, events: [10, 40], ended: { t: 70, how: 'rst' } }, { openedAt: 75, events: [120] }] },
        ],
        remote: { host: 'm1', clockUncertaintyMs: 0.4, samples: [s(20, false), s(55, false), s(105, false), s(155, true)] },
      },
      200,
    );
    // The sample before the fault is baseline: not counted.
    expect(summary).toMatchObject({ sent: 2, failed: 1, longestOutageMs: 60, vipMovedMs: 30, dualHoldingMs: 0, masters: ['m1'], finalHolders: ['lb2'] });
    expect(summary.defaultClient).toEqual({ sent: 2, failed: 1, slowestMs: 1020 });
    expect(summary.remote).toMatchObject({ host: 'm1', sent: 3, failed: 2, longestOutageMs: 100 });
    // Gaps of 100 ms are a stream flowing; a reset is learned, and the stall lasts until an event comes on the new connection.
    expect(summary.streams).toEqual([
      { name: 'held', kind: 'plain', stalledMs: 0 },
      { name: 'reset', kind: 'plain', stoppedAt: 40, learned: { t: 70, how: 'rst' }, resumedAt: 120, stalledMs: 80 },
    ]);
  });
});
