import { splitBrain } from './timeline.js';
import type { DrillResult } from './types.js';

// One self-contained HTML page (no scripts, fonts or links) with an SVG
// timeline per drill: a lane per load balancer showing when it held the VIP,
// lanes of client requests (green answered, amber slow, red failed), the fault and the
// restore as vertical lines, and the longest outage bracketed with its length.

const W = 960;
/** The lanes' names sit left of the timeline: at least this wide, wider for a long name (a stream held from a host). */
const MIN_LEFT = 110;
/** About the width of one character of a lane's name, at its font size. */
const LABEL_CHAR_PX = 7;
const RIGHT = 20;
const LANE = 26;

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '–' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Where the host was seen holding the VIP, cut where it shared it: split brain as the summary counts it (timeline.ts splitBrain). */
function holdSegments(d: DrillResult, host: string): { from: number; to: number; shared: boolean }[] {
  const obs = d.timeline.vip;
  const held: { from: number; to: number }[] = [];
  for (let i = 0; i < obs.length; i++) {
    const o = obs[i]!;
    if (!o.holders.includes(host)) continue;
    const to = obs[i + 1]?.t ?? d.durationMs;
    const last = held[held.length - 1];
    if (last && last.to === o.t) last.to = to;
    else held.push({ from: o.t, to });
  }
  const split = splitBrain(obs);
  const out: { from: number; to: number; shared: boolean }[] = [];
  for (const h of held) {
    let at = h.from;
    for (const b of split) {
      const from = Math.max(b.from, h.from);
      const to = Math.min(b.to, h.to);
      if (from >= to) continue;
      if (from > at) out.push({ from: at, to: from, shared: false });
      out.push({ from, to, shared: true });
      at = to;
    }
    if (at < h.to) out.push({ from: at, to: h.to, shared: false });
  }
  return out;
}

function tickStep(durationMs: number): number {
  const candidates = [250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];
  return candidates.find((c) => durationMs / c <= 12) ?? 120_000;
}

interface ClientLane {
  name: string;
  samples: DrillResult['timeline']['samples'];
  /** Draw each request as long as it took (a client waiting out SYN retries), not as a tick. */
  spans: boolean;
}

/** A stream as a lane: each event a tick, its stall one red span from its last event to the next (or the end). */
function streamLane(d: DrillResult, i: number): ClientLane {
  const r = d.timeline.streams[i]!;
  const s = d.summary.streams[i];
  const events = r.connections.flatMap((c) => c.events.map((t) => ({ t, ms: 0, ok: true, ...(c.master && { master: c.master }) })));
  const stall = s && s.stalledMs > 0 && s.stoppedAt !== undefined
    ? [{ t: s.stoppedAt, ms: s.stalledMs, ok: false, error: s.learned ? `stalled; knew by ${s.learned.how} at ${seconds(s.learned.t)}` : 'stalled; never knew the connection was dead' }]
    : [];
  return { name: `stream ${r.name}`, samples: [...events, ...stall], spans: stall.length > 0 };
}

/** A drill on a cluster with a VIP: its load balancers are lanes. Without one (no lb), the node's probe is all there is to draw. */
function hasVip(d: DrillResult): boolean {
  return d.lbs.length > 0;
}

function clientLanes(d: DrillResult): ClientLane[] {
  const t = d.timeline;
  if (!hasVip(d)) return t.node ? [{ name: `${t.node.host} proxy`, samples: t.node.samples, spans: false }] : [];
  return [
    ...t.streams.map((_, i) => streamLane(d, i)),
    { name: 'default client', samples: t.defaultClient, spans: true },
    ...(t.remote ? [{ name: `from ${t.remote.host}`, samples: t.remote.samples, spans: false }] : []),
    ...(t.node ? [{ name: `${t.node.host} proxy`, samples: t.node.samples, spans: false }] : []),
    // Last, so the bracket of the longest outage sits under it.
    { name: 'probe 50 ms', samples: t.samples, spans: false },
  ];
}

function svg(d: DrillResult): string {
  const clients = clientLanes(d);
  const lanes = [...d.lbs, ...clients.map((c) => c.name)];
  const height = 40 + lanes.length * LANE + 34;
  const span = Math.max(d.durationMs, 1);
  const left = Math.max(MIN_LEFT, 16 + LABEL_CHAR_PX * Math.max(...lanes.map((n) => n.length)));
  const x = (t: number) => left + (Math.min(Math.max(t, 0), span) / span) * (W - left - RIGHT);
  const laneY = (i: number) => 30 + i * LANE;
  const parts: string[] = [];
  const step = tickStep(span);
  for (let t = 0; t <= span; t += step) {
    parts.push(`<line x1="${x(t)}" y1="24" x2="${x(t)}" y2="${height - 30}" class="grid"/>`);
    parts.push(`<text x="${x(t)}" y="${height - 14}" class="tick">${(t / 1000).toFixed(step < 1000 ? 2 : 0)} s</text>`);
  }
  lanes.forEach((name, i) => {
    parts.push(`<text x="${left - 10}" y="${laneY(i) + LANE / 2 + 4}" class="lane">${esc(name)}</text>`);
    parts.push(`<rect x="${left}" y="${laneY(i) + 3}" width="${W - left - RIGHT}" height="${LANE - 6}" class="track"/>`);
  });
  d.lbs.forEach((host, i) => {
    for (const seg of holdSegments(d, host)) {
      const w = Math.max(1.5, x(seg.to) - x(seg.from));
      parts.push(
        `<rect x="${x(seg.from)}" y="${laneY(i) + 4}" width="${w}" height="${LANE - 8}" class="${seg.shared ? 'split' : 'hold'}"><title>${esc(host)} holds the VIP ${seconds(seg.from)}–${seconds(seg.to)}${seg.shared ? ' (together with another host: split brain)' : ''}</title></rect>`,
      );
    }
  });
  // keepalived's own word for each change, at the moment it logged it: small, on the host's lane.
  for (const c of d.timeline.states) {
    const i = d.lbs.indexOf(c.host);
    if (i < 0) continue;
    parts.push(
      `<g class="state state-${c.state.toLowerCase()}"><line x1="${x(c.t)}" y1="${laneY(i) + 2}" x2="${x(c.t)}" y2="${laneY(i) + LANE - 2}"/><text x="${x(c.t) + 2}" y="${laneY(i) + 11}">${c.state}</text><title>${esc(c.host)}: keepalived entered ${c.state} at ${seconds(c.t)}</title></g>`,
    );
  }
  clients.forEach((lane, i) => {
    const y = laneY(d.lbs.length + i);
    for (const s of lane.samples) {
      const w = Math.max(1.5, x(s.t + (lane.spans ? s.ms : Math.min(s.ms, 60))) - x(s.t));
      // A request that took over half a second answered, but a user waited for it.
      const cls = !s.ok ? 'fail' : lane.spans && s.ms > 500 ? 'slow' : 'ok';
      parts.push(
        `<rect x="${x(s.t)}" y="${y + 5}" width="${w}" height="${LANE - 10}" class="${cls}"${lane.spans ? ' fill-opacity="0.75"' : ''}><title>${esc(lane.name)} ${seconds(s.t)}: ${s.ok ? `answered in ${s.ms.toFixed(0)} ms${s.master ? ` by ${esc(s.master)}` : ''}` : `failed after ${s.ms.toFixed(0)} ms: ${esc(s.error ?? 'error')}`}</title></rect>`,
      );
    }
  });
  const clientY = laneY(lanes.length - 1);
  const worst = hasVip(d) ? d.summary.outage : d.summary.node?.outage;
  if (worst) {
    const y = clientY + LANE + 2;
    parts.push(`<path d="M${x(worst.from)} ${y - 4} V${y} H${x(worst.to)} V${y - 4}" class="bracket"/>`);
    parts.push(`<text x="${(x(worst.from) + x(worst.to)) / 2}" y="${y + 12}" class="bracket-label">longest outage ${seconds(worst.to - worst.from)}</text>`);
  }
  for (const m of d.timeline.marks) {
    if (m.what === 'note') continue;
    parts.push(`<line x1="${x(m.t)}" y1="16" x2="${x(m.t)}" y2="${height - 30}" class="mark-${m.what}"/>`);
    // Labels near the right edge run leftwards from their line, so they stay on the page.
    const leftward = x(m.t) > W - 260;
    parts.push(
      `<text x="${x(m.t) + (leftward ? -4 : 4)}" y="14" class="mark-label mark-${m.what}-label"${leftward ? ' text-anchor="end"' : ''}>${esc(m.what === 'fault' ? `⚡ ${m.text}` : `↺ ${m.text}`)}</text>`,
    );
  }
  return `<svg viewBox="0 0 ${W} ${height + 12}" width="100%" role="img" aria-label="timeline of ${esc(d.name)}">${parts.join('')}</svg>`;
}

function card(label: string, value: string, bad = false): string {
  return `<div class="card${bad ? ' bad' : ''}"><div class="v">${esc(value)}</div><div class="l">${esc(label)}</div></div>`;
}

function nodeCard(s: DrillResult['summary']): string {
  if (!s.node) return '';
  return card(`through ${s.node.host}'s proxy: longest outage, ${s.node.failed} / ${s.node.sent} failed`, s.node.error !== undefined ? 'no report' : seconds(s.node.longestOutageMs), s.node.error !== undefined || s.node.failed > 0);
}

function vipCards(d: DrillResult): string {
  const s = d.summary;
  return `${card('VIP moved in', seconds(s.vipMovedMs))}${card('longest client outage', seconds(s.longestOutageMs), !d.passed && s.longestOutageMs > 0)}${card('requests failed / sent', `${s.failed} / ${s.sent}`)}${card('two holders at once', seconds(s.dualHoldingMs), s.dualHoldingMs > 0)}${card('default client: slowest request', seconds(s.defaultClient.slowestMs), s.defaultClient.failed > 0)}${s.streams.length > 0 ? card('held connections: longest stall', seconds(longestStallMs(d))) : ''}${s.remote ? card(`longest outage from ${s.remote.host}`, s.remote.error !== undefined ? 'no report' : seconds(s.remote.longestOutageMs), s.remote.error !== undefined) : ''}`;
}

function drillSection(d: DrillResult): string {
  const expectations = d.expectations
    .map((e) => `<li class="${e.held ? 'held' : 'broken'}">${e.held ? '✔' : '✘'} <b>${esc(e.name)}</b> — ${esc(e.detail)}</li>`)
    .join('');
  return `<section class="drill ${d.passed ? 'pass' : 'fail'}">
<h2><span class="badge">${d.passed ? 'PASS' : 'FAIL'}</span> ${esc(d.name)} <small>${esc(d.title)}</small></h2>${d.caveat ? `<p class="caveat">Cannot show: ${esc(d.caveat)}</p>` : ''}
<div class="cards">${hasVip(d) ? vipCards(d) : ''}${nodeCard(d.summary)}</div>
${svg(d)}
<ul class="expect">${expectations}</ul>
</section>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
header{background:#1d2430;color:#fff;padding:20px 32px}header h1{margin:0 0 4px;font-size:22px}header p{margin:0;opacity:.8}
main{padding:16px 32px 40px;max-width:1040px}
table{border-collapse:collapse;background:#fff;width:100%;margin:12px 0 24px;box-shadow:0 1px 2px #0001}
th,td{padding:7px 10px;text-align:left;border-bottom:1px solid #e6e8ec}th{background:#eef0f3;font-weight:600}
td.pass{color:#157a3b;font-weight:700}td.fail{color:#b42318;font-weight:700}
.drill{background:#fff;border-radius:8px;padding:14px 18px;margin:18px 0;box-shadow:0 1px 3px #0002;border-left:6px solid #157a3b}
.drill.fail{border-left-color:#b42318}.drill h2{font-size:17px;margin:0 0 10px}.drill h2 small{font-weight:400;color:#5b6472;margin-left:6px}.caveat{margin:-4px 0 10px;color:#8a5a00;font-size:13px}
.badge{display:inline-block;font-size:12px;padding:2px 8px;border-radius:10px;background:#157a3b;color:#fff;vertical-align:2px}.fail .badge{background:#b42318}
.cards{display:flex;gap:10px;margin-bottom:8px}.card{flex:1;background:#f3f5f8;border-radius:6px;padding:8px 12px}.card .v{font-size:20px;font-weight:700}.card .l{color:#5b6472;font-size:12px}.card.bad .v{color:#b42318}
.expect{margin:6px 0 0;padding-left:0;list-style:none}.expect li{margin:2px 0}.held{color:#157a3b}.broken{color:#b42318}.expect b{color:#1d2430}
svg text{font:11px system-ui,sans-serif;fill:#3b4452}.tick{text-anchor:middle;fill:#8a93a1}.lane{text-anchor:end;font-weight:600}
.grid{stroke:#e9ecf0}.track{fill:#f3f5f8}.hold{fill:#2f6fdf}.split{fill:#e8590c}.ok{fill:#2fb344}.slow{fill:#f08c00}.fail{fill:#e03131}
.state line{stroke:#1d2430;stroke-width:1}.state text{font-size:9px;font-weight:700;fill:#1d2430}.state-fault text{fill:#c92a2a}.state-fault line{stroke:#c92a2a}
.mark-fault{stroke:#e03131;stroke-width:1.5;stroke-dasharray:4 3}.mark-restore{stroke:#7048e8;stroke-width:1.5;stroke-dasharray:4 3}
.mark-fault-label{fill:#c92a2a;font-weight:600}.mark-restore-label{fill:#5f3dc4;font-weight:600}
.bracket{stroke:#c92a2a;fill:none;stroke-width:1.5}.bracket-label{text-anchor:middle;fill:#c92a2a;font-weight:600}
.legend span{display:inline-block;width:12px;height:10px;margin:0 4px 0 14px;vertical-align:-1px}
`;

/** The summary table's columns past drill and outcome: the VIP's clients, or without a VIP the node's probe. */
function tableColumns(withVip: boolean): Array<{ title: string; cell: (d: DrillResult) => string }> {
  if (!withVip) {
    return [
      { title: "longest outage through the node's proxy", cell: (d) => (d.summary.node?.error !== undefined ? 'no report' : seconds(d.summary.node?.longestOutageMs)) },
      { title: 'failed / sent', cell: (d) => (d.summary.node ? `${d.summary.node.failed} / ${d.summary.node.sent}` : '–') },
    ];
  }
  return [
    { title: 'VIP moved in', cell: (d) => seconds(d.summary.vipMovedMs) },
    { title: 'longest outage', cell: (d) => seconds(d.summary.longestOutageMs) },
    { title: 'failed / sent', cell: (d) => `${d.summary.failed} / ${d.summary.sent}` },
    { title: 'default client (slowest)', cell: (d) => seconds(d.summary.defaultClient.slowestMs) },
    { title: 'held connections: longest stall', cell: (d) => (d.summary.streams.length === 0 ? '–' : seconds(longestStallMs(d))) },
  ];
}

function longestStallMs(d: DrillResult): number {
  return Math.max(0, ...d.summary.streams.map((x) => x.stalledMs));
}

/** `meta.vip`: VIP:port, or null for a cluster with no VIP (its drills are measured from a node through its local proxy). */
export function renderReport(drills: readonly DrillResult[], meta: { vip: string | null; inventory: string; version: string; when: string }): string {
  const passed = drills.filter((d) => d.passed).length;
  const columns = tableColumns(meta.vip !== null);
  const rows = drills
    .map(
      (d) =>
        `<tr><td>${esc(d.name)}</td><td class="${d.passed ? 'pass' : 'fail'}">${d.passed ? 'pass' : 'FAIL'}</td>${columns.map((c) => `<td>${esc(c.cell(d))}</td>`).join('')}<td>${esc(d.expectations.filter((e) => !e.held).map((e) => e.name).join('; ') || '–')}</td></tr>`,
    )
    .join('');
  const subject = meta.vip ?? 'the local proxies (no VIP)';
  const probe = meta.vip === null ? "a new TLS connection through a node's local proxy every 50 ms" : 'a new TLS connection to the VIP every 50 ms';
  const legend = meta.vip === null ? '' : '<span style="background:#2f6fdf"></span>holds the VIP<span style="background:#e8590c"></span>two holders';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kha failover drills — ${esc(subject)}</title><style>${CSS}</style></head>
<body><header><h1>Failover drills for ${esc(subject)}: ${passed} of ${drills.length} passed</h1>
<p>${esc(meta.inventory)} · kha ${esc(meta.version)} · ${esc(meta.when)} · ${probe}</p></header>
<main>
<table><thead><tr><th>drill</th><th>outcome</th>${columns.map((c) => `<th>${esc(c.title)}</th>`).join('')}<th>expectations not met</th></tr></thead><tbody>${rows}</tbody></table>
<p class="legend">${legend}<span style="background:#2fb344"></span>request answered<span style="background:#f08c00"></span>answered after over 0.5 s<span style="background:#e03131"></span>request failed</p>
${drills.map(drillSection).join('\n')}
</main></body></html>
`;
}
