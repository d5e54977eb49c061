import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultLimits, DRILLS, type DrillContext } from '../../../src/drill/drills.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { packageRoot } from '../../../src/paths.js';

// The reboot drill waits for the host to answer, then for keepalived and
// haproxy as the topology reads them (systemd's units, or the kubelet's
// pods): what it asks and when it counts the host back.

function context(states: Record<string, string>[]): { ctx: DrillContext; asked: string[]; marks: string[] } {
  const r = parseInventory(readFileSync(join(packageRoot, 'examples', 'hosts.yaml'), 'utf8'), 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  const inv = r.inventory;
  const asked: string[] = [];
  const marks: string[] = [];
  const ctx: DrillContext = {
    inv,
    sessions: new Map(),
    holder: inv.lbs[0]!,
    master: inv.masters[0]!,
    partitionSeconds: 6,
    limits: defaultLimits(inv),
    mark: (what, text) => void marks.push(`${what} ${text}`),
    now: () => performance.now(),
    onTimeline: () => undefined,
    progress: () => undefined,
    extra: {},
    reconnect: async (host) => void asked.push(`reconnect ${host}`),
    serviceStates: async (host) => {
      asked.push(`states ${host}`);
      return states.shift() ?? { keepalived: 'active', haproxy: 'active' };
    },
  };
  return { ctx, asked, marks };
}

describe('reboot', () => {
  const reboot = DRILLS.find((d) => d.name === 'reboot')!;

  it("counts the holder back once it answers and the topology reads both services active, not before", async () => {
    const { ctx, asked, marks } = context([{ keepalived: 'not running', haproxy: 'active' }, { keepalived: 'runs an older manifest', haproxy: 'active' }]);
    await reboot.recover!(ctx);
    expect(asked).toEqual(['reconnect lb1', 'states lb1', 'states lb1', 'states lb1']);
    expect(typeof ctx.extra.backAfterMs).toBe('number');
    expect(marks).toEqual(['restore lb1 back, keepalived and haproxy running']);
    const back = reboot.expectations(ctx, { finalHolders: ['lb2'], streams: [], dualHoldingMs: 0, longestOutageMs: 0, failed: 0, sent: 1, takeover: { to: 'lb2', takenAt: 1 }, vipMovedMs: 100 } as never);
    expect(back.find((e) => e.name === 'lb1 back with both services')?.held).toBe(true);
  });
});
