import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applicableDrills, NO_PROXY_HOST } from '../../../src/drill/applicable.js';
import { defaultLimits, DRILLS, masterSilenceCut, nodeDrillMaster, proxyMarkedDownMs, type DrillContext, type DrillName } from '../../../src/drill/drills.js';
import { summarize, type Sample, type Timeline } from '../../../src/drill/timeline.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { packageRoot } from '../../../src/paths.js';
import { renderLoadBalancer, renderNodeProxy } from '../../../src/render/render.js';
import { DEDICATED } from '../../../src/topology/dedicated/index.js';
import { ON_MASTERS } from '../../../src/topology/on-masters.js';
import { proxyHosts } from '../../../src/topology/roles.js';
import { runKha } from '../cli-harness.js';

// The drills from a node (issue 14 point 5): their limits, what they judge,
// and where they apply. The lab runs them for real (test/lab/node-proxy.test.ts).

function inventory(file: string, edit: (text: string) => string = (t) => t): Inventory {
  const path = join(packageRoot, 'examples', file);
  const r = parseInventory(edit(readFileSync(path, 'utf8')), path, {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

const withProxy = (edit?: (text: string) => string) => inventory('node-proxy.yaml', edit);

describe('how long a node proxy may take to drop a master, from the haproxy timings', () => {
  it('with the defaults: a refusing apiserver within inter + fastinter, a silent one also waits out two check connects', () => {
    const h = withProxy().haproxy;
    expect([h.check_inter_ms, h.check_fastinter_ms, h.check_fall, h.timeout_connect_ms]).toEqual([500, 100, 2, 1000]);
    // 500 + 0 + 100 + 300 and 500 + 2 × min(1000, 500) + 100 + 300.
    expect(proxyMarkedDownMs(h, 'refusing')).toBe(900);
    expect(proxyMarkedDownMs(h, 'silent')).toBe(1900);
  });

  it('follows each timing: a check connect is bounded by timeout connect and inter both', () => {
    const slow = withProxy((t) => `${t}haproxy:\n  check_inter_ms: 2000\n  check_fastinter_ms: 200\n  check_fall: 3\n  timeout_connect_ms: 1000\n`).haproxy;
    // 2000 + 3 × min(1000, 2000) + 2 × 200 + 300.
    expect(proxyMarkedDownMs(slow, 'silent')).toBe(5700);
    expect(proxyMarkedDownMs(slow, 'refusing')).toBe(2700);
  });

  it("the proxy's own check interval, where node_proxy sets one, and only for the proxy: the crash drill's limit and the proxy's file follow it, the load balancers' do not", () => {
    const inv = withProxy((t) => t.replace('node_proxy:\n', 'node_proxy:\n  check_inter_ms: 2000\n'));
    expect(inv.nodeProxy?.checkInterMs).toBe(2000);
    // 2000 + 2 × min(1000, 2000) + 100 + 300.
    expect(defaultLimits(inv)['node-master-crash']).toBe(4400);
    const w1 = proxyHosts(inv).find((h) => h.name === 'w1')!;
    expect(renderNodeProxy(inv, w1).find((f) => f.path.endsWith('haproxy.cfg'))!.content).toContain(' inter 2000ms ');
    const lb1 = inv.lbs[0]!;
    expect(renderLoadBalancer(inv, lb1, 'eth0').find((f) => f.path === '/etc/haproxy/haproxy.cfg')!.content).toContain(' inter 500ms ');
  });

  it('is the crash drill\'s outage limit, unless drills.max_outage says otherwise; a stopped apiserver may cost nothing', () => {
    const limits = defaultLimits(withProxy());
    expect(limits['node-master-crash']).toBe(1900);
    expect(limits['node-apiserver-stop']).toBe(0);
    const set = defaultLimits(withProxy((t) => `${t}drills:\n  max_outage:\n    node-master-crash: 2.5\n    node-apiserver-stop: 0.2\n`));
    expect([set['node-master-crash'], set['node-apiserver-stop']]).toEqual([2500, 200]);
  });
});

describe('the faults', () => {
  it('a crash is silence on the node (its packets dropped), not a route that fails the connect at once', () => {
    const inv = withProxy();
    const cut = masterSilenceCut(proxyHosts(inv)[0]!, inv.masters[2]!);
    expect(cut.host).toBe('w1');
    expect(cut.cut).toContain('iptables -w -I INPUT -s 10.77.0.23/32 -m comment --comment kha-drill -j DROP');
    expect(cut.cut).not.toMatch(/ip route/);
    expect(cut.heal).toContain('iptables -w -D INPUT -s 10.77.0.23/32 -m comment --comment kha-drill -j DROP');
  });

  it('never takes away the node itself when the masters run the proxy: the master before it instead', () => {
    const inv = withProxy((t) => t.replace('masters: false', 'masters: true').replace('port: 6443 ', 'port: 7443 '));
    const [m1, m2, m3] = inv.masters;
    expect(nodeDrillMaster({ inv, master: m3!, node: proxyHosts(inv)[0]! }).name).toBe('m3');
    expect(nodeDrillMaster({ inv, master: m3!, node: proxyHosts(inv).find((h) => h.name === 'm3')! }).name).toBe(m2!.name);
    expect(m1!.name).toBe('m1');
  });
});

describe('what they judge', () => {
  const drill = (name: DrillName) => DRILLS.find((d) => d.name === name)!;
  const s = (t: number, ok: boolean, ms = 5): Sample => ({ t, ms, ok, ...(ok ? {} : { error: 'timed out' }) });

  /** `downSpan`: when the node's loop last saw m3 UP and first saw it down, on the timeline. */
  function judged(name: DrillName, opts: { samples: Sample[]; markedDownMs?: number; downSpan?: [number, number]; inv?: Inventory; noProbe?: boolean }) {
    const inv = opts.inv ?? withProxy();
    const ctx: DrillContext = {
      inv,
      sessions: new Map(),
      holder: inv.lbs[0]!,
      master: inv.masters[2]!,
      node: proxyHosts(inv)[0]!,
      partitionSeconds: 6,
      limits: defaultLimits(inv),
      mark: () => undefined,
      now: () => performance.now(),
      onTimeline: () => undefined,
      progress: () => undefined,
      extra: {
        ...(opts.markedDownMs === undefined ? {} : { markedDownMs: opts.markedDownMs }),
        ...(opts.downSpan ? { upUntil: opts.downSpan[0], downBy: opts.downSpan[1] } : {}),
      },
      reconnect: () => Promise.reject(new Error('not here')),
      serviceStates: () => Promise.reject(new Error('not here')),
    };
    const timeline: Timeline = { samples: [], defaultClient: [], vip: [], states: [], streams: [], marks: [{ t: 1000, what: 'fault', text: 'cut' }] };
    if (!opts.noProbe) timeline.node = { host: 'w1', url: 'https://127.0.0.1:6443/readyz', samples: opts.samples, clockUncertaintyMs: 1 };
    return drill(name).expectations(ctx, summarize(timeline, 6000)).map((e) => [e.name, e.held, e.detail]);
  }

  const steady = [s(1000, true), s(1050, true), s(1100, true)];

  it('apiserver stopped, haproxy: no failed request, and out of rotation within inter + fastinter', () => {
    const noFailed = "no failed request through w1's proxy, beyond one closed as m3 leaves rotation";
    expect(judged('node-apiserver-stop', { samples: steady, markedDownMs: 620, downSpan: [1540, 1620] })).toEqual([
      [noFailed, true, '0 of 3 requests to https://127.0.0.1:6443/readyz failed'],
      ['m3 out of rotation on w1 within 0.90 s', true, 'its proxy marked it down after 0.62 s'],
    ]);
    const bad = judged('node-apiserver-stop', { samples: [...steady, s(1150, false, 1000)], markedDownMs: 1200 });
    expect(bad.map(([, held]) => held)).toEqual([false, false]);
    expect(bad[0]![2]).toBe('1 of 4 requests to https://127.0.0.1:6443/readyz failed');
    expect(judged('node-apiserver-stop', { samples: steady })[1]).toEqual(['m3 out of rotation on w1 within 0.90 s', false, 'its proxy never marked it down within 5.00 s']);
  });

  it("apiserver stopped, haproxy: one request closed as the master is marked down is shutdown-sessions' price, not the drill's failure; any other is", () => {
    const span: [number, number] = [1540, 1620];
    // Closed at once (D- in haproxy's log), 1 ms after it started, within the span the node's loop saw the change in.
    const closed = s(1600, false, 1);
    expect(judged('node-apiserver-stop', { samples: [...steady, closed], markedDownMs: 620, downSpan: span })[0]).toEqual([
      "no failed request through w1's proxy, beyond one closed as m3 leaves rotation",
      true,
      '1 of 4 requests to https://127.0.0.1:6443/readyz failed (it was closed by haproxy as it marked m3 down)',
    ]);
    // The span's edges give the clock and the client 50 ms.
    expect(judged('node-apiserver-stop', { samples: [...steady, s(1492, false, 1)], markedDownMs: 620, downSpan: span })[0]![1]).toBe(true);
    expect(judged('node-apiserver-stop', { samples: [...steady, s(1680, false, 1)], markedDownMs: 620, downSpan: span })[0]![1]).toBe(false);
    // A second one, or a failure well before the mark-down (a retry that did not hide a refused connect), fails the drill.
    const two = judged('node-apiserver-stop', { samples: [...steady, closed, s(1610, false, 1)], markedDownMs: 620, downSpan: span })[0]!;
    expect(two.slice(1)).toEqual([false, '2 of 5 requests to https://127.0.0.1:6443/readyz failed (one was closed by haproxy as it marked m3 down)']);
    expect(judged('node-apiserver-stop', { samples: [...steady, s(1200, false, 20)], markedDownMs: 620, downSpan: span })[0]![1]).toBe(false);
    // Without the span (haproxy never seen marking it down), every failure counts.
    expect(judged('node-apiserver-stop', { samples: [...steady, closed] })[0]![1]).toBe(false);
  });

  it('master crashed, haproxy: out of rotation and the longest outage both within the limit', () => {
    const oneGap = [s(1000, true), s(1050, false, 1000), s(1100, true)];
    expect(judged('node-master-crash', { samples: oneGap, markedDownMs: 1500 })).toEqual([
      ['m3 out of rotation on w1 within 1.90 s', true, 'its proxy marked it down after 1.50 s'],
      ["outage through w1's proxy ≤ 1.90 s", true, 'longest 0.05 s; 1 of 3 requests to https://127.0.0.1:6443/readyz failed; slowest answer 1.00 s'],
    ]);
    const long = [s(1000, false, 1000), s(3100, true)];
    expect(judged('node-master-crash', { samples: long, markedDownMs: 2000 }).map(([, held]) => held)).toEqual([false, false]);
  });

  it('nginx: a stopped apiserver is judged on the requests alone, a crash is reported with what it cost, and each drill says why', () => {
    const inv = withProxy((t) => t.replace('software: haproxy', 'software: nginx'));
    expect(judged('node-apiserver-stop', { inv, samples: steady }).map(([name, held]) => [name, held])).toEqual([["no failed request through w1's proxy", true]]);
    const crash = judged('node-master-crash', { inv, samples: [s(1000, false, 1000), s(3100, true)] });
    expect(crash).toEqual([["what nginx's passive checks cost w1, reported", true, 'longest 2.10 s; 1 of 2 requests to https://127.0.0.1:6443/readyz failed; slowest answer 1.00 s']]);
    const ctx = { inv, node: proxyHosts(inv)[0]!, master: inv.masters[2]! } as DrillContext;
    expect(drill('node-master-crash').caveat?.(ctx)).toContain('nginx (node_proxy.software) checks nothing by itself');
    expect(drill('node-apiserver-stop').caveat?.(ctx)).toContain('nginx');
    expect(drill('node-master-crash').caveat?.({ ...ctx, inv: withProxy() })).toBe('');
  });

  it('a probe on the node that never reported fails the drill, whatever else was seen', () => {
    expect(judged('node-master-crash', { samples: [], markedDownMs: 100, noProbe: true })).toEqual([
      ['probe on w1 reported', false, 'it never started (no SSH session or clock for the node)'],
    ]);
  });
});

describe('where they apply', () => {
  it('wherever a host runs the local proxy, on every topology', () => {
    for (const topology of [DEDICATED, ON_MASTERS]) {
      const { drills, notApplicable } = applicableDrills(topology, withProxy());
      expect(drills.map((d) => d.name)).toContain('node-apiserver-stop');
      expect(drills.map((d) => d.name)).toContain('node-master-crash');
      expect(notApplicable).toEqual([]);
    }
  });

  it('asked for by name without one, verify-failover refuses, with why, before reaching any host (exit 2)', async () => {
    const file = join(packageRoot, 'examples', 'hosts.yaml');
    const r = await runKha(['verify-failover', file, '--drill', 'node-apiserver-stop']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--drill node-apiserver-stop does not apply to ${file}: ${NO_PROXY_HOST}`);
  });

  it('without one they are not applicable, with why; the other drills are untouched', () => {
    const { drills, notApplicable } = applicableDrills(DEDICATED, inventory('hosts.yaml'));
    expect(drills.map((d) => d.name)).toEqual(['keepalived-stop', 'keepalived-kill', 'haproxy-down', 'backend-down', 'partition', 'failback', 'reboot']);
    expect(notApplicable).toEqual([
      { name: 'node-apiserver-stop', why: NO_PROXY_HOST, by: 'inventory' },
      { name: 'node-master-crash', why: NO_PROXY_HOST, by: 'inventory' },
    ]);
  });
});
