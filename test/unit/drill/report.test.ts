import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../../src/drill/report-html.js';
import { summarize, type Timeline } from '../../../src/drill/timeline.js';
import type { DrillResult } from '../../../src/drill/types.js';
import { drillTable } from '../../../src/commands/verify-failover-run.js';

function drill(name: string, failFrom: number, failTo: number): DrillResult {
  const samples = [];
  for (let t = 0; t < 4000; t += 50) samples.push({ t, ms: 9, ok: t < failFrom || t >= failTo, master: 'm1' });
  const vip = [];
  for (let t = 0; t < 4000; t += 100) vip.push({ t, host: t % 200 === 0 ? 'lb1' : 'lb2', holders: t < failFrom ? ['lb1'] : t < failTo ? [] : ['lb2'] });
  const defaultClient = [];
  for (let t = 0; t < 4000; t += 500) defaultClient.push({ t, ms: t === 1000 ? 1030 : 12, ok: true });
  const states = [
    { t: failFrom + 10, host: 'lb1', state: 'FAULT' as const },
    { t: failTo - 20, host: 'lb2', state: 'MASTER' as const },
  ];
  const streams = [
    { name: 'plain', kind: 'plain' as const, connections: [{ openedAt: 0, events: [100, 200, failFrom - 50], ended: { t: failFrom + 40, how: 'rst' as const } }, { openedAt: failFrom + 100, events: [failFrom + 150, 3500] }] },
  ];
  const timeline: Timeline = { samples, defaultClient, vip, states, streams, marks: [{ t: failFrom, what: 'fault', text: `${name} <lb1>` }, { t: 3000, what: 'restore', text: 'restored' }] };
  const summary = summarize(timeline, 4000);
  return {
    name, title: 'a drill', target: 'lb1', startedAt: '2026-11-24T05:00:00Z', durationMs: 4000, timeline, summary, lbs: ['lb1', 'lb2'], notRestored: [],
    passed: summary.longestOutageMs <= 500,
    expectations: [{ name: 'outage ≤ 0.5 s', held: summary.longestOutageMs <= 500, detail: `${summary.longestOutageMs} ms` }],
  };
}

const html = renderReport([drill('keepalived-stop', 1000, 1100), drill('haproxy-down', 1000, 2500)], {
  vip: '10.77.0.10:6443', inventory: 'hosts.yaml', version: '0.1.0', when: 'now',
});

describe('the HTML drill report', () => {
  it('is one self-contained page: no scripts, no links out, text escaped', () => {
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//i);
    expect(html).toContain('keepalived-stop &lt;lb1&gt;');
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).toContain('1 of 2 passed');
    expect(html).toContain('longest outage 1.50 s');
    // The client with default TCP settings waited out a SYN retry: an amber bar a second long, and a card.
    expect(html).toMatch(/class="slow" fill-opacity="0.75"><title>default client 1.00 s: answered in 1030 ms/);
    expect(html).toContain('1.03 s</div><div class="l">default client: slowest request');
    // keepalived's own state changes sit on their host's lane.
    expect(html).toMatch(/<g class="state state-fault">.*?<text [^>]*>FAULT<\/text><title>lb1: keepalived entered FAULT at 1\.01 s<\/title><\/g>/);
    expect(html).toContain('lb2: keepalived entered MASTER at 1.08 s');
    // The held stream: its longest stall in a card and in the summary table.
    const stall = `${(drill('keepalived-stop', 1000, 1100).summary.streams[0]!.stalledMs / 1000).toFixed(2)} s`;
    expect(html).toContain(`${stall}</div><div class="l">held connections: longest stall`);
    expect(html).toMatch(new RegExp(`<th>held connections: longest stall</th>`));
    expect(html).toContain(`<td>${stall}</td>`);
  });

  it('renders in headless Chromium', () => {
    const chromium = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout.trim();
    expect(chromium, 'chromium is missing: apt-get install chromium (scripts/setup-host.sh does)').not.toBe('');
    const dir = mkdtempSync(join(tmpdir(), 'kha-report-'));
    try {
      writeFileSync(join(dir, 'report.html'), html);
      const r = spawnSync(
        chromium,
        ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'profile')}`, '--window-size=1100,1400', `--screenshot=${join(dir, 'report.png')}`, `file://${join(dir, 'report.html')}`],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(r.status, r.stderr).toBe(0);
      const png = readFileSync(join(dir, 'report.png'));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      // A blank page compresses to a few KiB; two drawn timelines do not.
      expect(statSync(join(dir, 'report.png')).size).toBeGreaterThan(40_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a drill from a node', () => {
  it("draws the node's probe as a lane of its own, with a card for what it saw", () => {
    const d = drill('node-master-crash', 1000, 1000);
    const samples = [0, 1000, 1050, 1100].map((t) => ({ t, ms: t === 1050 ? 1000 : 4, ok: t !== 1050, ...(t === 1050 ? { error: 'timed out' } : {}) }));
    d.timeline.node = { host: 'w1', url: 'https://127.0.0.1:6443/readyz', samples, clockUncertaintyMs: 1 };
    d.summary = summarize(d.timeline, 4000);
    const page = renderReport([d], { vip: '10.77.0.10:6443', inventory: 'hosts.yaml', version: '0.1.0', when: 'now' });
    expect(page).toContain('>w1 proxy</text>');
    expect(page).toContain('<title>w1 proxy 1.05 s: failed after 1000 ms: timed out</title>');
    expect(page).toContain("0.05 s</div><div class=\"l\">through w1&#39;s proxy: longest outage, 1 / 3 failed");
  });
});

describe('split brain on the timeline', () => {
  /** A drill whose VIP observations are `vip`; everything else from the usual drill. */
  function withVip(vip: Timeline['vip']): DrillResult {
    const d = drill('keepalived-kill', 1000, 1100);
    const timeline = { ...d.timeline, vip };
    return { ...d, timeline, summary: summarize(timeline, d.durationMs) };
  }
  const splitRects = (d: DrillResult) => [...renderReport([d], { vip: 'v', inventory: 'h', version: '0', when: 'now' }).matchAll(/class="split"><title>(lb\d) holds the VIP ([\d.]+) s–([\d.]+) s/g)].map((m) => `${m[1]} ${m[2]}-${m[3]}`);

  it('is drawn exactly where the summary counts it: both hosts seen holding', () => {
    const d = withVip([
      { t: 0, host: 'lb1', holders: ['lb1'] },
      { t: 1100, host: 'lb2', holders: ['lb1', 'lb2'] },
      { t: 1400, host: 'lb1', holders: ['lb1', 'lb2'] },
      { t: 1500, host: 'lb2', holders: ['lb1', 'lb2'] },
      { t: 1700, host: 'lb1', holders: ['lb2'] },
    ]);
    expect(d.summary.dualHoldingMs).toBe(300);
    expect(splitRects(d)).toEqual(['lb1 1.10-1.40', 'lb2 1.10-1.40']);
  });

  it('is not drawn for a handover whose answers crossed', () => {
    const d = withVip([
      { t: 0, host: 'lb1', holders: ['lb1'] },
      { t: 1090, host: 'lb2', holders: ['lb1', 'lb2'] },
      { t: 1091, host: 'lb1', holders: ['lb2'] },
    ]);
    expect(d.summary.dualHoldingMs).toBe(0);
    expect(splitRects(d)).toEqual([]);
  });
});

/** A drill from a node on a cluster with no VIP: the node's probe is its only lane. */
function nodeOnly(): DrillResult {
  const samples = [];
  for (let t = 0; t < 4000; t += 50) samples.push({ t, ms: 9, ok: t !== 1100 });
  const timeline: Timeline = {
    samples: [], defaultClient: [], vip: [], states: [], streams: [],
    node: { host: 'w1', url: 'https://127.0.0.1:6443/readyz', samples, clockUncertaintyMs: 1 },
    marks: [{ t: 1000, what: 'fault', text: 'm2 silent for w1' }],
  };
  const summary = summarize(timeline, 4000);
  return { name: 'node-master-crash', title: 'm2 falls silent', target: 'w1', startedAt: 'now', durationMs: 4000, timeline, summary, lbs: [], notRestored: [], passed: true, expectations: [] };
}

describe('without a VIP', () => {
  it("the report draws the node's lane and its outage, no VIP lanes, cards or columns", () => {
    const page = renderReport([nodeOnly()], { vip: null, inventory: 'hosts.yaml', version: '0.1.0', when: 'now' });
    expect(page).toContain('Failover drills for the local proxies (no VIP): 1 of 1 passed');
    expect(page).toContain('<th>longest outage through the node&#39;s proxy</th><th>failed / sent</th>');
    expect(page).toContain('<td>0.05 s</td><td>1 / 60</td>');
    expect(page).toContain('>w1 proxy</text>');
    expect(page).toContain('longest outage 0.05 s');
    expect(page).not.toMatch(/VIP moved|holds the VIP|default client|probe 50 ms/);
  });

  it("the summary table has the node's column only", () => {
    const [head, run, na] = drillTable([nodeOnly()], [{ name: 'keepalived-stop' }], undefined, 'w1', false);
    expect(head).toEqual(['drill', 'outcome', "outage through w1's proxy"]);
    expect(run).toEqual(['node-master-crash', 'pass', '0.05 s']);
    expect(na).toEqual(['keepalived-stop', 'n/a', '-']);
  });
});

describe('the summary table', () => {
  it('has a cell under every title, for drills run and drills that do not apply, with or without the extra probes', () => {
    for (const extra of [[], ['m1'], ['m1', 'w1']] as const) {
      const [head, ...rows] = drillTable([drill('keepalived-stop', 1000, 1100), drill('haproxy-down', 1000, 2500)], [{ name: 'node-master-crash' }], extra[0], extra[1]);
      expect(head).toContain('longest stream stall');
      for (const row of rows) expect(row).toHaveLength(head!.length);
    }
    const [head, run] = drillTable([drill('keepalived-stop', 1000, 1100)], []);
    expect(run![head!.indexOf('longest stream stall')]).toMatch(/^\d+\.\d\d s$/);
  });
});
