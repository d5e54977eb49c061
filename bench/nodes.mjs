#!/usr/bin/env node
// Benchmark of `kha apply` over many nodes (issue 14 point 6): a lab of 2
// load balancers and 3 masters with 5 workers, then with 50, each given a
// cold apply and a few no-change applies, side by side in one run, with the
// ratios against the targets, where the time of each apply goes (from
// the timestamped lines apply prints in CI mode), and how much memory a lab
// machine takes. Prints figures; asserts nothing (the machine is shared and
// noisy). Leaves no lab running.
// `--intervals 500,2000` also re-applies the large lab with each
// node_proxy.check_inter_ms in turn and reads the machines' idle CPU at each:
// what the proxies' health checks cost the apiservers.
// Run as root after `npm run build`, holding the lab's lock:
//   flock /tmp/kha-lab.lock node bench/nodes.mjs [--runs N] [--small 5] [--large 50] [--parallel 10] [--also-parallel 25] [--intervals MS,MS]
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kha = join(root, 'bin', 'kha.js');
const flag = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const runs = flag('--runs', 5);
const small = flag('--small', 5);
const large = flag('--large', 50);
const parallel = flag('--parallel', 10);
// A second cold apply of the large lab at another --parallel (a fresh lab: cold means cold).
const alsoParallel = flag('--also-parallel', 0);
const intervalsAt = process.argv.indexOf('--intervals');
const intervals = intervalsAt > 0 ? process.argv[intervalsAt + 1].split(',').map(Number) : [];
if (intervals.some((ms) => !Number.isInteger(ms) || ms < 100)) throw new Error('--intervals takes check intervals in ms (at least 100), comma-separated');
const env = { ...process.env, CI: '1' };

/** CPU seconds the lab machines have used so far (their cgroups, cgroup v2 or the hybrid's unified tree); 0 when unknown. */
function labCpuSeconds() {
  for (const dir of ['/sys/fs/cgroup/kha-lab', '/sys/fs/cgroup/unified/kha-lab']) {
    try {
      return Number(/^usage_usec (\d+)/m.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))?.[1] ?? 0) / 1e6;
    } catch {
      // not this hierarchy
    }
  }
  return 0;
}

/**
 * Runs kha under bash's `time`, which reports the CPU kha itself used (user
 * and system, its children included); the lab machines' CPU over the same
 * span comes from their cgroups. On two cores shared by kha and every
 * machine, those two say whose work the wall time was.
 */
function run(args) {
  const started = Date.now();
  const labCpu = labCpuSeconds();
  const t = performance.now();
  const r = spawnSync('bash', ['-c', 'TIMEFORMAT="@@kha-cpu %U %S"; time "$@"', 'bash', process.execPath, kha, ...args], {
    env,
    encoding: 'utf8',
    timeout: 1_800_000,
    maxBuffer: 64 << 20,
  });
  const s = (performance.now() - t) / 1000;
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`kha ${args.join(' ')} exited ${r.status}`);
  }
  const cpu = /@@kha-cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return {
    s,
    started,
    ended: Date.now(),
    stdout: r.stdout,
    khaCpu: cpu ? Number(cpu[1]) + Number(cpu[2]) : 0,
    labCpu: labCpuSeconds() - labCpu,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const mean = (xs) => (xs.length ? sum(xs) / xs.length : 0);

/**
 * Where an apply's time went, from its CI lines ("HH:MM:SS.mmm == stage"):
 * before the first stage (node's start, connect, facts, preflight, plan),
 * then each stage until the next one starts, the last until the process ended
 * (the summary and closing the connections included).
 */
function phases(r) {
  const day = new Date(r.started);
  day.setUTCHours(0, 0, 0, 0);
  const stages = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^(\d\d):(\d\d):(\d\d)\.(\d{3}) == (.+)$/.exec(line);
    if (!m) continue;
    let at = day.getTime() + ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
    if (at < r.started - 1000) at += 86_400_000;
    stages.push({ title: m[5], at });
  }
  const out = [{ title: 'before the stages', s: ((stages[0]?.at ?? r.ended) - r.started) / 1000 }];
  stages.forEach((st, i) => out.push({ title: st.title, s: ((stages[i + 1]?.at ?? r.ended) - st.at) / 1000 }));
  return out;
}

const showPhases = (ps) => ps.map((p) => `${p.title} ${p.s.toFixed(2)}`).join(' | ');
const cores = availableParallelism();
// Everything shares this machine's cores: the machines' CPU over the cores is a floor under the wall time.
const showCpu = (t) => `CPU: kha ${t.khaCpu.toFixed(2)}, lab machines ${t.labCpu.toFixed(2)} (on ${cores} cores at least ${(t.labCpu / cores).toFixed(2)} s)`;

/** CPU seconds per second the lab machines spend with nothing being applied (the proxies' health checks, mostly). */
function idleLabCpu(seconds) {
  const before = labCpuSeconds();
  spawnSync('sleep', [String(seconds)]);
  return (labCpuSeconds() - before) / seconds;
}

/** PSS of every machine (kha lab status), mean per role in MiB. */
function memoryByRole() {
  const st = JSON.parse(run(['lab', 'status', '--json']).stdout);
  const by = {};
  for (const m of st.machines) (by[m.role] ??= []).push(m.memoryMiB ?? 0);
  return Object.fromEntries(Object.entries(by).map(([role, xs]) => [role, { mean: mean(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length }]));
}

function labUp(workers) {
  run(['lab', 'down']);
  const up = run(['lab', 'up', '--lbs', '2', '--masters', '3', '--workers', String(workers), '--json']);
  const report = JSON.parse(up.stdout);
  const boots = report.machines.map((m) => m.bootToSshSeconds);
  return { up: up.s, hosts: report.hostsYaml, bootMax: Math.max(...boots) };
}

/** An apply's wall time, where it went, and the CPU kha and the machines spent on it. */
function timed(r) {
  return { s: r.s, phases: phases(r), khaCpu: r.khaCpu, labCpu: r.labCpu };
}

function cold(hosts, p) {
  return timed(run(['apply', '--yes', '--parallel', String(p), hosts]));
}

function measure(workers) {
  const lab = labUp(workers);
  // Let the machines' boot-time work finish before their memory is read.
  spawnSync('sleep', ['5']);
  const idle = memoryByRole();
  const first = cold(lab.hosts, parallel);
  const again = [];
  for (let i = 0; i < runs; i++) {
    const r = run(['apply', '--yes', '--parallel', String(parallel), lab.hosts]);
    if (!r.stdout.includes('No changes')) throw new Error('a no-change apply changed something:\n' + r.stdout);
    again.push(timed(r));
  }
  const proxied = memoryByRole();
  const idleCpu = idleLabCpu(10);
  const mid = median(again.map((a) => a.s));
  const result = {
    workers,
    lab,
    idle,
    proxied,
    idleCpu,
    cold: first,
    reapply: mid,
    reapplyAll: again.map((a) => a.s),
    reapplyMedian: again.find((a) => a.s === mid),
  };
  if (intervals.length > 0 && workers === large) {
    // The same lab, its proxies re-applied at each interval: the load balancers' haproxy is untouched.
    result.byInterval = intervals.map((ms) => {
      const file = lab.hosts.replace(/\.yaml$/, `-inter-${ms}.yaml`);
      writeFileSync(file, readFileSync(lab.hosts, 'utf8').replace(/^node_proxy:\n/m, `node_proxy:\n  check_inter_ms: ${ms}\n`));
      run(['apply', '--yes', '--parallel', String(parallel), file]);
      return { ms, idleCpu: idleLabCpu(20) };
    });
  }
  if (alsoParallel > 0 && workers === large) {
    const other = labUp(workers);
    result.coldOther = cold(other.hosts, alsoParallel);
  }
  return result;
}

const started = new Date();
const results = [];
try {
  for (const workers of [small, large]) {
    results.push(measure(workers));
    const r = results.at(-1);
    // Said as soon as known: a run that fails later still leaves these.
    process.stderr.write(`${workers} workers: lab up ${r.lab.up.toFixed(1)} s, cold ${r.cold.s.toFixed(2)} s, no-change ${r.reapplyAll.map((x) => x.toFixed(2)).join(' ')}\n`);
  }
} finally {
  run(['lab', 'down']);
}
const [a, b] = results;
const f = (x) => `${x.toFixed(2)} s`;
const coldRatio = b.cold.s / a.cold.s;
const againRatio = b.reapply / a.reapply;

console.log(`kha apply over nodes on the lab (2 lbs, 3 masters), ${started.toISOString()}, --parallel ${parallel}, median of ${runs} no-change runs`);
console.log('workers  lab up     cold apply  no-change apply');
for (const r of results) console.log(`${String(r.workers).padEnd(9)}${f(r.lab.up).padEnd(11)}${f(r.cold.s).padEnd(12)}${f(r.reapply)}`);
console.log(`ratio ${large}/${small}: cold apply ${coldRatio.toFixed(2)}x, no-change apply ${againRatio.toFixed(2)}x`);
console.log(
  `targets: no-change ${large} ≤ 2x ${small} (${againRatio <= 2 ? 'met' : 'NOT met'}), cold ${large} ≤ 3x ${small} (${coldRatio <= 3 ? 'met' : 'NOT met'})`,
);
console.log('no-change runs (s):', results.map((r) => `${r.workers} workers ${r.reapplyAll.map((x) => x.toFixed(2)).join(' ')}`).join('; '));
console.log('where the time goes (s):');
for (const r of results) {
  console.log(`  ${r.workers} workers, cold: ${showPhases(r.cold.phases)}; ${showCpu(r.cold)}`);
  console.log(`  ${r.workers} workers, no-change (median run): ${showPhases(r.reapplyMedian.phases)}; ${showCpu(r.reapplyMedian)}`);
}
if (b.coldOther) {
  console.log(`cold apply of ${large} workers at --parallel ${alsoParallel}: ${f(b.coldOther.s)} (at ${parallel}: ${f(b.cold.s)})`);
  console.log(`  ${showPhases(b.coldOther.phases)}; ${showCpu(b.coldOther)}`);
}
console.log('lab up: slowest machine to SSH', results.map((r) => `${r.workers} workers ${f(r.lab.bootMax)}`).join('; '));
console.log('memory per machine, PSS (kha lab status), MiB, mean (min-max):');
const role = (m, name) => (m[name] ? `${m[name].mean.toFixed(1)} (${m[name].min.toFixed(1)}-${m[name].max.toFixed(1)})` : '-');
for (const r of results) {
  console.log(
    `  ${r.workers} workers: worker idle ${role(r.idle, 'worker')}, with its proxy ${role(r.proxied, 'worker')}; ` +
      `lb ${role(r.idle, 'lb')} idle, ${role(r.proxied, 'lb')} serving; master ${role(r.proxied, 'master')}`,
  );
}
if (b.byInterval) {
  console.log(
    `lab machines idle with ${large} workers, by node_proxy.check_inter_ms:`,
    b.byInterval.map((x) => `${x.ms} ms ${x.idleCpu.toFixed(2)} CPU-s per s`).join('; '),
  );
}
console.log(
  'lab machines idle after the applies (proxies checking the apiservers):',
  results.map((r) => `${r.workers} workers ${r.idleCpu.toFixed(2)} CPU-s per s`).join('; '),
);
