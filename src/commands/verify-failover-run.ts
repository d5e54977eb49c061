import { writeFile } from 'node:fs/promises';
import { outputFor, type CliContext } from '../cli.js';
import { InputError } from '../errors.js';
import { DRILL_NAMES, DRILLS, defaultLimits, type DrillName } from '../drill/drills.js';
import { renderReport } from '../drill/report-html.js';
import { runDrill, waitHealthy, type DrillEnv } from '../drill/run.js';
import type { DrillResult } from '../drill/types.js';
import { closeAll, gatherAll, openSessions } from '../execute/apply.js';
import type { Inventory } from '../inventory/model.js';
import { interfaceFor } from '../facts/derived.js';
import { VERSION } from '../version.js';

export interface VerifyFlags {
  drill?: string[];
  report?: string;
  partitionSeconds?: string;
  json?: boolean;
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`;
}

/** The verify-failover command once kha runs where it can reach the hosts. */
export async function runVerifyFailover(inv: Inventory, file: string, flags: VerifyFlags, ctx: CliContext): Promise<void> {
  const out = outputFor(ctx, Boolean(flags.json));
  const names = (flags.drill ?? [...DRILL_NAMES]) as DrillName[];
  for (const n of names) if (!DRILL_NAMES.includes(n)) throw new InputError(`--drill ${n}: no such drill (${DRILL_NAMES.join(', ')})`);
  const partitionSeconds = flags.partitionSeconds === undefined ? inv.drills.partitionSeconds : Number(flags.partitionSeconds);
  if (!Number.isInteger(partitionSeconds) || partitionSeconds < 2 || partitionSeconds > 120) throw new InputError('--partition-seconds takes a whole number from 2 to 120');

  const sessions = await openSessions(inv);
  let abort!: () => void;
  const aborted = new Promise<void>((r) => (abort = r));
  let interrupted = false;
  const onSigint = () => {
    if (!interrupted) ctx.streams.stderr('\nrestoring, then stopping\n');
    interrupted = true;
    abort();
  };
  process.on('SIGINT', onSigint);
  const results: DrillResult[] = [];
  try {
    const facts = await gatherAll(inv, sessions);
    const interfaces = new Map(inv.lbs.map((lb) => [lb.name, interfaceFor(lb, facts.get(lb.name)!) ?? 'eth0']));
    const env: DrillEnv = { inv, sessions, partitionSeconds, limits: defaultLimits(inv), interfaces, aborted, progress: (t) => out.line(t) };
    for (const name of names) {
      if (interrupted) break;
      const holder = await waitHealthy(env);
      const result = await runDrill(DRILLS.find((d) => d.name === name)!, env, holder);
      results.push(result);
      const s = result.summary;
      out.line(
        `  ${result.passed ? 'pass' : 'FAIL'}: VIP moved in ${seconds(s.vipMovedMs)}, longest outage ${seconds(s.longestOutageMs)}, ${s.failed}/${s.sent} failed${s.dualHoldingMs ? `, two holders for ${seconds(s.dualHoldingMs)}` : ''}`,
      );
      for (const e of result.expectations.filter((x) => !x.held)) out.line(`    not met: ${e.name}: ${e.detail}`);
    }
    if (!interrupted) await waitHealthy(env);
  } finally {
    process.off('SIGINT', onSigint);
    await closeAll(sessions);
  }
  const rows = results.map((r) => [r.name, r.passed ? 'pass' : 'FAIL', seconds(r.summary.vipMovedMs), seconds(r.summary.longestOutageMs), `${r.summary.failed}/${r.summary.sent}`]);
  const head = ['drill', 'outcome', 'VIP moved in', 'longest outage', 'failed/sent'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  out.line('');
  for (const r of [head, ...rows]) out.line(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  if (flags.report) {
    await writeFile(flags.report, renderReport(results, { vip: `${inv.vip.address}:${inv.port}`, inventory: file, version: VERSION, when: new Date().toISOString() }));
    out.line(`\nreport: ${flags.report}`);
  }
  const passed = !interrupted && results.every((r) => r.passed);
  out.result({ ok: passed, interrupted, drills: results });
  ctx.exit(interrupted ? 130 : passed ? 0 : 1);
}
