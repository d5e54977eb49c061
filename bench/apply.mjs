#!/usr/bin/env node
// Benchmark of `kha apply` on the lab: a cold apply, a no-change re-apply,
// and how both grow from 2 to 5 load balancers, measured side by side in one
// run. Prints figures; asserts nothing (these machines are shared and noisy).
// Run as root after `npm run build`: node bench/apply.mjs [--runs N]
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kha = join(root, 'bin', 'kha.js');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5;
const env = { ...process.env, CI: '1' };

function run(args) {
  const t = performance.now();
  const r = spawnSync(process.execPath, [kha, ...args], { env, encoding: 'utf8', timeout: 1_800_000 });
  const s = (performance.now() - t) / 1000;
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`kha ${args.join(' ')} exited ${r.status}`);
  }
  return { s, stdout: r.stdout };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function measure(lbs) {
  run(['lab', 'down']);
  const up = run(['lab', 'up', '--lbs', String(lbs), '--masters', '3']);
  const hosts = /\/\S+hosts\.yaml/.exec(up.stdout)?.[0] ?? '/var/lib/kha/lab/hosts.yaml';
  const cold = run(['apply', '--yes', hosts]).s;
  const again = [];
  for (let i = 0; i < runs; i++) {
    const r = run(['apply', '--yes', hosts]);
    if (!r.stdout.includes('No changes')) throw new Error('a re-apply changed something:\n' + r.stdout);
    again.push(r.s);
  }
  const dry = run(['apply', '--dry-run', hosts]).s;
  return { lbs, up: up.s, cold, reapply: median(again), reapplyAll: again, dry };
}

const results = [measure(2), measure(5)];
run(['lab', 'down']);
const [two, five] = results;
const f = (x) => `${x.toFixed(2)} s`;
console.log('kha apply on the lab (3 masters), median of', runs, 'no-change runs');
console.log('load balancers  lab up   cold apply  no-change re-apply  dry-run');
for (const r of results) console.log(`${String(r.lbs).padEnd(16)}${f(r.up).padEnd(9)}${f(r.cold).padEnd(12)}${f(r.reapply).padEnd(20)}${f(r.dry)}`);
console.log(`ratio 5/2: cold apply ${(five.cold / two.cold).toFixed(2)}x, no-change re-apply ${(five.reapply / two.reapply).toFixed(2)}x`);
console.log(`targets: no-change re-apply on 5 hosts < 3 s (${five.reapply < 3 ? 'met' : 'NOT met'}), 5 LBs ≤ 1.5x 2 LBs (${five.reapply / two.reapply <= 1.5 ? 'met' : 'NOT met'})`);
console.log('no-change runs (s):', results.map((r) => `${r.lbs} LBs ${r.reapplyAll.map((x) => x.toFixed(2)).join(' ')}`).join('; '));
