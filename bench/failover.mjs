#!/usr/bin/env node
// Client-visible failover on the lab (2 load balancers, 3 masters): kha's
// defaults against the kubeadm guide (source 002) as written, in one run and
// side by side. Each fault starts from a settled cluster, is measured with the
// drill instruments (a new TLS connection to the VIP every 50 ms, every load
// balancer polled for the VIP), is restored, and the cluster settles again.
// `--soak [MINUTES]` instead idles kha's defaults with both load balancers
// under full CPU load and counts false failovers. `--adverts 0.2,0.1,0.05`
// runs kha's defaults once per advert interval: the unplanned faults (crash,
// link down, haproxy dead), then the soak with both load balancers under full
// CPU load and losing `--loss` percent of their packets (1 by default), so the
// interval is chosen from figures: how fast each fault is over against how
// many false failovers it costs. `--streams` also holds the
// drills' long-lived streams (a plain client, one like client-go, and the
// operator's kubectl, client-go itself, where there is one) through each
// fault, for STREAM_HOLD_MS, so that what an unplanned loss leaves them
// is seen: how long each stayed stuck and what told it. Prints figures;
// asserts nothing. Run as root after `npm run build`; leaves the lab down.
//   node bench/failover.mjs [--only kha|guide] [--faults a,b] [--streams] [--json]
//   node bench/failover.mjs --soak [MINUTES] [--json]
//   node bench/failover.mjs --adverts 0.2,0.1,0.05 [--soak MINUTES] [--loss PERCENT] [--json]
//
// Two processes: this one, in the host's namespaces, brings the lab up and
// down; for each configuration an agent (this file with --agent) runs in the
// lab's controller network namespace, where the VIP and the machines are
// reachable. The agent enters only that network namespace (nsenter --net):
// under `ip netns exec` /sys is remounted without the cgroup hierarchies that
// `kha lab fault poweron` needs to boot a machine.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeAll, openSessions } from '../dist/execute/apply.js';
import { requireInventory } from '../dist/inventory/load.js';
import { readVrrpState } from '../dist/observe/keepalived-state.js';
import { vipHolders } from '../dist/observe/vip.js';
import { machineNetns } from '../dist/lab/state.js';
import { dualHolding, longestOutage, summarize } from '../dist/drill/timeline.js';
import { PROBE_CONNECT_TIMEOUT_MS, PROBE_INTERVAL_MS, startClient, startDefaultClient, startVipWatch } from '../dist/drill/watch.js';
import { openStreams, watchTarget } from '../dist/drill/operator-streams.js';
import { CLIENT_GO_PING_TIMEOUT_MS, CLIENT_GO_READ_IDLE_MS, summarizeStream } from '../dist/drill/streams.js';

const self = fileURLToPath(import.meta.url);
const kha = join(dirname(self), '..', 'bin', 'kha.js');
const env = { ...process.env, CI: '1' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (text) => process.stderr.write(`${text}\n`);

// ---------------------------------------------------------------- the faults

const BASELINE_MS = 2000;
/** Measuring goes on this long after the VIP moved, so that the client's recovery is seen too. */
const AFTER_MOVE_MS = 4000;
const HOLD_CAP_MS = 30_000;
/** The guide's check (interval 3 × fall 10) needs about 30 s to notice a dead haproxy. */
const HAPROXY_HOLD_CAP_MS = 60_000;
/** The VIP does not move when one apiserver stops: long enough for the guide's checks (inter 2 s × fall 3) and then some. */
const BACKEND_HOLD_MS = 10_000;
const SETTLE_TIMEOUT_MS = 120_000;
const CLEAN_WINDOW_MS = 2000;
/** With --streams: past client-go's own give-up (a ping after 30 s idle, 15 s for its answer), so each kind's fate is seen. */
const STREAM_HOLD_MS = CLIENT_GO_READ_IDLE_MS + CLIENT_GO_PING_TIMEOUT_MS + 5000;

const onHost = (command) => async (ctx, host) => {
  const at = ctx.now();
  await exec(ctx.sessions.get(host), command);
  return at;
};
const labFault = (kind) => async (ctx, host) => ctx.fromWall((await khaJson(['lab', 'fault', kind, host])).injectedAt);

/** Issue 6's targets for kha's defaults: the longest outage in seconds, or no failed request. */
const FAULTS = {
  'keepalived-stop': { inject: labFault('keepalived-stop'), restore: onHost('systemctl start keepalived'), target: { maxS: 0.2, text: 'keepalived stopped' } },
  'keepalived-kill': { inject: labFault('keepalived-kill'), restore: onHost('systemctl start keepalived'), target: { maxS: 1.0, text: 'keepalived killed' } },
  'haproxy-down': { inject: onHost('systemctl stop haproxy'), restore: onHost('systemctl start haproxy'), capMs: HAPROXY_HOLD_CAP_MS, target: { maxS: 0.5, text: 'haproxy dead' } },
  'backend-down': { onMaster: true, inject: labFault('apiserver-stop'), restore: labFault('apiserver-start'), holdMs: BACKEND_HOLD_MS, target: { failed: 0, text: 'apiserver stopped' } },
  // The hard faults cut the agent's SSH session to the machine: it is opened again after the restore.
  crash: { inject: labFault('crash'), restore: labFault('poweron'), reconnect: true, target: { maxS: 1.0, text: 'holder crashed' } },
  'link-down': { inject: labFault('link-down'), restore: labFault('link-up'), reconnect: true, target: { maxS: 1.0, text: 'holder link down' } },
  isolate: { inject: labFault('isolate'), restore: labFault('rejoin'), reconnect: true },
};

// ------------------------------------------------------------ the orchestrator

const USAGE =
  'usage: node bench/failover.mjs [--only kha|guide] [--faults a,b] [--streams] [--json] | --soak [MINUTES] [--json] | --adverts S,S,.. [--soak MINUTES] [--loss PERCENT] [--json]';

/** The faults an advert interval decides: those where nobody hands the VIP over, and a backup must notice silence (haproxy dead: the check, then a handover). */
const ADVERT_FAULTS = ['crash', 'link-down', 'haproxy-down'];

function parseArgs(argv) {
  const o = { configs: ['kha', 'guide'], faults: Object.keys(FAULTS), json: false, streams: false, soakMinutes: undefined, adverts: undefined, lossPercent: undefined };
  const bad = (text) => {
    process.stderr.write(`${text}\n${USAGE}\n`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--streams') o.streams = true;
    else if (a === '--only') {
      const v = argv[++i];
      if (v !== 'kha' && v !== 'guide') bad('--only takes kha or guide');
      o.configs = [v];
    } else if (a === '--faults') {
      o.faults = (argv[++i] ?? '').split(',');
      const unknown = o.faults.filter((f) => !FAULTS[f]);
      if (unknown.length > 0) bad(`unknown fault ${unknown.join(', ')}; one of ${Object.keys(FAULTS).join(', ')}`);
    } else if (a === '--adverts') {
      o.adverts = (argv[++i] ?? '').split(',').map(Number);
      if (o.adverts.length === 0 || o.adverts.some((x) => !(x >= 0.01 && x <= 255))) bad('--adverts takes seconds from 0.01 to 255, separated by commas, like 0.2,0.1,0.05');
    } else if (a === '--loss') {
      o.lossPercent = Number(argv[++i]);
      if (!(o.lossPercent >= 0 && o.lossPercent < 100)) bad('--loss takes a percentage from 0 to below 100');
    } else if (a === '--soak') {
      o.soakMinutes = /^\d+(\.\d+)?$/.test(argv[i + 1] ?? '') ? Number(argv[++i]) : 10;
      if (!(o.soakMinutes > 0)) bad('--soak takes a number of minutes above 0');
    } else bad(`unknown argument ${a}`);
  }
  return o;
}

const children = new Set();

/** kha as a child process, asynchronously: the agent's client and watcher must keep running meanwhile. */
function runKha(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kha, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      children.delete(child);
      if (code === 0) resolve(stdout);
      else reject(new Error(`kha ${args.join(' ')} exited ${code}: ${(stderr || stdout).trim()}`));
    });
  });
}

async function khaJson(args) {
  return JSON.parse(await runKha([...args, '--json']));
}

/** A fresh lab, with kha's defaults applied or not (with `advertS`, that advert interval instead of the default); returns its hosts.yaml. */
async function freshLab(apply, advertS) {
  say('lab: down, then up (2 load balancers, 3 masters)');
  await runKha(['lab', 'down']);
  const { hostsYaml } = await khaJson(['lab', 'up', '--lbs', '2', '--masters', '3']);
  if (advertS !== undefined) writeFileSync(hostsYaml, readFileSync(hostsYaml, 'utf8').replace(/^keepalived:\n/m, `keepalived:\n  advert_int: ${advertS}\n`));
  if (apply) {
    say('kha apply --yes');
    await runKha(['apply', '--yes', hostsYaml]);
  }
  return hostsYaml;
}

function runAgent(task, netns) {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=/run/netns/${netns}`, process.execPath, self, '--agent', JSON.stringify(task)], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      children.delete(child);
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`the ${task.config} agent exited ${code}`));
    });
  });
}

async function orchestrate(opts) {
  if (process.getuid?.() !== 0) throw new Error('bench/failover.mjs needs root (the lab)');
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      say(`${signal}: stopping, then bringing the lab down`);
      for (const c of children) c.kill('SIGTERM');
      runKha(['lab', 'down']).finally(() => process.exit(130));
    });
  }
  const started = Date.now();
  try {
    if (opts.adverts !== undefined) {
      const runs = [];
      let inv;
      for (const advertS of opts.adverts) {
        const hosts = await freshLab(true, advertS);
        inv = await requireInventory(hosts, process.env);
        say(`advert_int ${advertS} s (VRRPv${inv.keepalived.version})`);
        const task = { config: 'kha', hosts, faults: ADVERT_FAULTS, soakMinutes: opts.soakMinutes ?? 10, lossPercent: opts.lossPercent ?? 1 };
        runs.push({ advertS, ...(await runAgent(task, inv.operatorNetns).catch((e) => ({ config: 'kha', faults: [], error: e.message }))) });
      }
      printAdverts(runs, opts, inv, (Date.now() - started) / 1000);
      return runs.some((r) => r.error || r.faults.some((f) => f.error)) ? 1 : 0;
    }
    if (opts.soakMinutes !== undefined) {
      const hosts = await freshLab(true);
      const inv = await requireInventory(hosts, process.env);
      const soak = await runAgent({ config: 'kha', hosts, soakMinutes: opts.soakMinutes, lossPercent: opts.lossPercent ?? 0 }, inv.operatorNetns);
      printSoak(soak, inv, opts.json);
      return soak.error ? 1 : 0;
    }
    const results = [];
    let inv;
    for (const config of opts.configs) {
      const hosts = await freshLab(config === 'kha');
      inv = await requireInventory(hosts, process.env);
      results.push(await runAgent({ config, hosts, faults: opts.faults, streams: opts.streams }, inv.operatorNetns).catch((e) => ({ config, faults: [], error: e.message })));
    }
    printRun(results, opts, inv, (Date.now() - started) / 1000);
    return results.some((r) => r.error || r.faults.some((f) => f.error)) ? 1 : 0;
  } finally {
    if (!interrupted) {
      say('lab: down');
      await runKha(['lab', 'down']);
    }
  }
}

// ------------------------------------------------------------------ the agent

async function exec(session, command, timeoutMs = 30_000) {
  const r = await session.exec(command, { timeoutMs });
  if (r.code !== 0) throw new Error(`${session.host}: \`${command}\` exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

const NO_ANSWER = { code: 255, stdout: '', stderr: 'no answer' };

/**
 * The sessions the VIP watcher polls, for fault runs. The watcher keeps a
 * silent host's last answer, which after a crash or a cut link would count the
 * old holder as holding for as long as it is away: here a host that does not
 * answer within the poll's time limit counts as not holding (as `kha status`
 * counts it; an unreachable holder's VIP is out of the client's reach too).
 * One question at a time per host, so a dead link does not pile up SSH
 * channels; each answer also says, live, who holds the VIP (`latest`).
 */
function watchedSessions(inv, sessions, latest) {
  return new Map(
    inv.lbs.map((lb) => {
      let asking;
      const session = {
        host: lb.name,
        async exec(command, opts) {
          asking ??= sessions
            .get(lb.name)
            .exec(command, opts)
            .catch(() => NO_ANSWER)
            .finally(() => (asking = undefined));
          let timer;
          const r = await Promise.race([asking, new Promise((res) => (timer = setTimeout(res, opts.timeoutMs, NO_ANSWER)))]);
          clearTimeout(timer);
          latest.set(lb.name, r.code === 0);
          return r;
        },
      };
      return [lb.name, session];
    }),
  );
}

/** What is left to settle, or '' when every service runs, keepalived agrees on one holder and (with preemption) it is the preferred one. */
async function unsettled(ctx) {
  const { inv, sessions } = ctx;
  const services = await Promise.all(
    inv.lbs.map(async (lb) => {
      const r = await sessions.get(lb.name).exec('systemctl is-active keepalived haproxy', { timeoutMs: 5000 }).catch(() => ({ stdout: '' }));
      return r.stdout.split('\n').filter((l) => l === 'active').length === 2 ? undefined : lb.name;
    }),
  );
  const down = services.filter(Boolean);
  if (down.length > 0) return `keepalived or haproxy not active on ${down.join(', ')}`;
  const holders = await vipHolders(inv, sessions);
  if (holders.length !== 1) return `${holders.length} hosts hold the VIP`;
  const holder = holders[0].name;
  if (ctx.preferred && holder !== ctx.preferred) return `${holder} holds the VIP; waiting for ${ctx.preferred} to take it back (preemption)`;
  const states = await Promise.all(inv.lbs.map(async (lb) => [lb.name, await readVrrpState(sessions.get(lb.name)).catch(() => 'UNKNOWN')]));
  const wrong = states.filter(([name, s]) => s !== (name === holder ? 'MASTER' : 'BACKUP'));
  if (wrong.length > 0) return `keepalived ${wrong.map(([n, s]) => `${n} ${s}`).join(', ')} while ${holder} holds the VIP`;
  return '';
}

/**
 * Settled: every keepalived and haproxy active, exactly one holder with
 * keepalived agreeing (MASTER there, BACKUP elsewhere), on the preferred host
 * when the configuration preempts (or a failback would land in the next
 * fault), and then for 2 s every request through the VIP succeeding, every
 * master answering, one holder throughout. Returns the holder.
 */
async function settle(ctx) {
  const until = Date.now() + SETTLE_TIMEOUT_MS;
  let why = '';
  while (Date.now() < until) {
    why = await unsettled(ctx);
    if (!why) {
      const t0 = performance.now();
      const client = startClient(ctx.inv, t0);
      const watch = startVipWatch(ctx.inv, ctx.watched, t0);
      await sleep(CLEAN_WINDOW_MS);
      const [samples, vip] = await Promise.all([client.stop(), watch.stop()]);
      const failed = samples.filter((s) => !s.ok).length;
      const masters = new Set(samples.filter((s) => s.ok).map((s) => s.master));
      // The watcher learns each host's state from its first answer: a backup may answer before the holder does.
      const seen = vip.slice(Math.max(vip.findIndex((o) => o.holders.length > 0), 0));
      const holders = [...new Set(seen.map((o) => o.holders.join(',') || 'nobody'))];
      if (failed > 0) why = `${failed} of ${samples.length} requests through the VIP failed (${errorCounts(samples)})`;
      else if (masters.size < ctx.inv.masters.length) why = `only ${[...masters].join(', ')} answered through the VIP`;
      else if (holders.length !== 1 || holders[0].includes(',') || holders[0] === 'nobody') why = `the VIP was held by ${holders.join(', then ')}`;
      else return holders[0];
    }
    await sleep(500);
  }
  throw new Error(`not settled within ${SETTLE_TIMEOUT_MS / 1000} s: ${why}`);
}

/** `ECONNREFUSED ×3, HTTP 503 ×1`: what the failed requests saw. */
function errorCounts(samples) {
  const counts = new Map();
  for (const s of samples) if (!s.ok) counts.set(s.error, (counts.get(s.error) ?? 0) + 1);
  return [...counts].map(([e, n]) => `${e} ×${n}`).join(', ');
}

async function reconnect(ctx, host) {
  const old = ctx.sessions.get(host);
  const fresh = await openSessions({ ...ctx.inv, lbs: ctx.inv.lbs.filter((lb) => lb.name === host) });
  ctx.sessions.set(host, fresh.get(host));
  await closeAll(new Map([[host, old]]));
}

/** Figures of one window of a fault's timeline: from `from` (fault or restore) to `to`. */
function figures(timeline, from, to) {
  // The observation at or before `from` says who held the VIP then.
  const first = timeline.vip.findLastIndex((o) => o.t <= from);
  const vip = timeline.vip.slice(Math.max(first, 0)).filter((o) => o.t < to);
  const before = (x) => x.t < to;
  const marks = [{ t: from, what: 'fault', text: '' }];
  // Streams are summarized on their own (streamFigures): a Timeline's other parts are empty here.
  const s = summarize({ samples: timeline.samples.filter(before), defaultClient: timeline.defaultClient.filter(before), vip, marks, states: [], streams: [] }, to);
  return {
    seconds: (to - from) / 1000,
    sent: s.sent,
    failed: s.failed,
    longestOutageS: s.longestOutageMs / 1000,
    vipMovedS: s.vipMovedMs === undefined ? null : s.vipMovedMs / 1000,
    vipFrom: s.takeover?.from ?? null,
    vipTo: s.takeover?.to ?? null,
    twoHoldersS: s.dualHoldingMs / 1000,
    /** A client with default TCP settings (no connect timeout of its own): what it saw, apart from the 50 ms probe. */
    defaultClient: { sent: s.defaultClient.sent, failed: s.defaultClient.failed, slowestS: s.defaultClient.slowestMs / 1000 },
    /** Hosts holding the VIP at `from` and at `to`: a move is only meaningful from one holder. */
    holdersAtStart: vip[0]?.holders.length ?? 0,
    holdersAtEnd: vip.at(-1)?.holders.length ?? 0,
  };
}

async function runFault(ctx, name, holder) {
  const f = FAULTS[name];
  const target = f.onMaster ? ctx.inv.masters[0].name : holder;
  const t0 = performance.now();
  const wall0 = Date.now();
  ctx.now = () => performance.now() - t0;
  ctx.fromWall = (iso) => Date.parse(iso) - wall0;
  ctx.latest.clear();
  const client = startClient(ctx.inv, t0);
  const defaultClient = startDefaultClient(ctx.inv, t0);
  const watch = startVipWatch(ctx.inv, ctx.watched, t0);
  const streams = ctx.streams ? await openStreams(watchTarget(ctx.inv.vip.address, ctx.inv.port), t0) : undefined;
  const result = { fault: name, target, holder };
  let faultAt;
  let restoreAt;
  try {
    await sleep(BASELINE_MS);
    faultAt = await f.inject(ctx, target);
    try {
      await (streams ? sleep(STREAM_HOLD_MS) : hold(ctx, f, holder));
    } finally {
      restoreAt = await f.restore(ctx, target);
      if (f.reconnect) await reconnect(ctx, target);
    }
    result.nextHolder = await settle(ctx);
  } catch (e) {
    result.error = e.message;
  }
  const [samples, slow, vip, records] = await Promise.all([client.stop(), defaultClient.stop(), watch.stop(), streams?.stop()]);
  const end = ctx.now();
  if (faultAt !== undefined && restoreAt !== undefined) {
    const timeline = { samples, defaultClient: slow, vip };
    result.failover = figures(timeline, faultAt, restoreAt);
    result.restore = figures(timeline, restoreAt, end);
    if (streams?.unavailable) result.failover.streamsUnavailable = streams.unavailable;
    else if (records) result.failover.streams = records.map((r) => streamFigures(summarizeStream(r, faultAt, restoreAt), faultAt));
  }
  return result;
}

/** A held stream through the fault, in seconds from the fault: when it knew its connection was dead, and how; when it flowed again. */
function streamFigures(s, faultAt) {
  const from = (t) => (t === undefined ? null : (t - faultAt) / 1000);
  return { name: s.name, stalledS: s.stalledMs / 1000, knewS: from(s.learned?.t), how: s.learned?.how ?? null, resumedS: from(s.resumedAt) };
}

/** Until the VIP has moved and the client had time to recover, or the hold's cap; a fixed time when the VIP is not meant to move. */
async function hold(ctx, f, holder) {
  if (f.holdMs) return sleep(f.holdMs);
  const start = performance.now();
  let movedAt;
  while (performance.now() - start < (f.capMs ?? HOLD_CAP_MS)) {
    if (movedAt === undefined && [...ctx.latest].some(([h, holds]) => holds && h !== holder)) movedAt = performance.now();
    if (movedAt !== undefined && performance.now() - movedAt >= AFTER_MOVE_MS) return;
    await sleep(100);
  }
}

// The kubeadm guide (source 002) as written: its three files with the
// placeholders filled as it says, keepalived's defaults for everything it
// does not write (VRRPv2, advert_int 1, preemption, multicast).

function guideKeepalived(inv, lb, index) {
  // ${STATE}: one MASTER, the others BACKUP; ${PRIORITY}: 101 on the master, 100 on the backups.
  // ${APISERVER_VIP} is the bare address, as the guide writes it everywhere (keepalived adds it as /32).
  return `! Configuration File for keepalived
global_defs {
    router_id LVS_DEVEL
}
vrrp_script check_apiserver {
  script "/etc/keepalived/check_apiserver.sh"
  interval 3
  weight -2
  fall 10
  rise 2
}

vrrp_instance VI_1 {
    state ${index === 0 ? 'MASTER' : 'BACKUP'}
    interface ${lb.interface}
    virtual_router_id 51
    priority ${index === 0 ? 101 : 100}
    authentication {
        auth_type PASS
        auth_pass 42
    }
    virtual_ipaddress {
        ${inv.vip.address}
    }
    track_script {
        check_apiserver
    }
}
`;
}

function guideCheckScript(inv) {
  const vip = inv.vip.address;
  const port = inv.port;
  return `#!/bin/sh

errorExit() {
    echo "*** $*" 1>&2
    exit 1
}

curl --silent --max-time 2 --insecure https://localhost:${port}/ -o /dev/null || errorExit "Error GET https://localhost:${port}/"
if ip addr | grep -q ${vip}; then
    curl --silent --max-time 2 --insecure https://${vip}:${port}/ -o /dev/null || errorExit "Error GET https://${vip}:${port}/"
fi
`;
}

function guideHaproxy(inv) {
  // Debian 12's haproxy 2.6 starts with this as written (warnings only: forwardfor in a tcp frontend and backend).
  return `# /etc/haproxy/haproxy.cfg
#---------------------------------------------------------------------
# Global settings
#---------------------------------------------------------------------
global
    log /dev/log local0
    log /dev/log local1 notice
    daemon

#---------------------------------------------------------------------
# common defaults that all the 'listen' and 'backend' sections will
# use if not designated in their block
#---------------------------------------------------------------------
defaults
    mode                    http
    log                     global
    option                  httplog
    option                  dontlognull
    option http-server-close
    option forwardfor       except 127.0.0.0/8
    option                  redispatch
    retries                 1
    timeout http-request    10s
    timeout queue           20s
    timeout connect         5s
    timeout client          20s
    timeout server          20s
    timeout http-keep-alive 10s
    timeout check           10s

#---------------------------------------------------------------------
# apiserver frontend which proxys to the masters
#---------------------------------------------------------------------
frontend apiserver
    bind *:${inv.port}
    mode tcp
    option tcplog
    default_backend apiserver

#---------------------------------------------------------------------
# round robin balancing for apiserver
#---------------------------------------------------------------------
backend apiserver
    option httpchk GET /healthz
    http-check expect status 200
    mode tcp
    option ssl-hello-chk
    balance     roundrobin
${inv.masters.map((m) => `        server ${m.name} ${m.address}:${m.apiserverPort} check`).join('\n')}
`;
}

async function installGuide(ctx) {
  const { inv, sessions } = ctx;
  await Promise.all(
    inv.lbs.map(async (lb, i) => {
      const s = sessions.get(lb.name);
      // The lab's root fs ships without package lists.
      await exec(s, 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q keepalived haproxy', 600_000);
      await s.put('/etc/keepalived/keepalived.conf', guideKeepalived(inv, lb, i), { mode: 0o644 });
      await s.put('/etc/keepalived/check_apiserver.sh', guideCheckScript(inv), { mode: 0o755 });
      await s.put('/etc/haproxy/haproxy.cfg', guideHaproxy(inv), { mode: 0o644 });
      // The guide's `systemctl enable --now`, haproxy first; restart, because Debian's package
      // has already started haproxy with its own configuration.
      await exec(s, 'systemctl enable haproxy keepalived && systemctl restart haproxy && systemctl restart keepalived');
    }),
  );
}

async function agent(task) {
  const inv = await requireInventory(task.hosts, process.env);
  const sessions = await openSessions(inv);
  const latest = new Map();
  const ctx = { inv, sessions, latest, watched: watchedSessions(inv, sessions, latest), streams: task.streams === true };
  const result = { config: task.config, faults: [] };
  try {
    if (task.config === 'guide') {
      say('guide: installing keepalived and haproxy, writing the guide\'s files, starting haproxy then keepalived');
      await installGuide(ctx);
      ctx.preferred = inv.lbs[0].name;
    } else if (inv.keepalived.preempt) {
      ctx.preferred = inv.lbs.find((lb) => lb.primary).name;
    }
    result.packages = (await exec(sessions.get(inv.lbs[0].name), "dpkg-query -W -f='${Package} ${Version}\\n' keepalived haproxy")).trim().split('\n');
    let holder = await settle(ctx);
    // A soak alone, or (advert intervals) after the faults.
    if (task.soakMinutes !== undefined && task.faults === undefined) return Object.assign(result, await soak(ctx, task.soakMinutes, task.lossPercent ?? 0));
    for (const name of task.faults) {
      say(`${task.config}: ${name} (VIP on ${holder})`);
      const r = await runFault(ctx, name, holder);
      result.faults.push(r);
      if (r.failover) {
        const m = r.failover;
        say(`  outage ${m.longestOutageS.toFixed(2)} s, ${m.failed}/${m.sent} failed, VIP ${m.vipTo ? `moved to ${m.vipTo} in ${m.vipMovedS.toFixed(2)} s` : `did not move in ${m.seconds.toFixed(1)} s`}`);
      }
      if (r.error) {
        say(`  ${r.error}; the remaining faults of ${task.config} are not run`);
        break;
      }
      holder = r.nextHolder;
    }
    if (task.soakMinutes !== undefined && !result.faults.some((f) => f.error)) result.soak = await soak(ctx, task.soakMinutes, task.lossPercent ?? 0);
  } catch (e) {
    result.error = e.message;
  } finally {
    await closeAll(sessions);
  }
  return result;
}

// ------------------------------------------------------------------ the soak

const BURN = 'kha-bench-burn';

/** Seconds the VIP had no holder, counted from the first observation of a holder (the watcher's first answers may come from a backup). */
function zeroHolding(vip) {
  let total = 0;
  for (let i = vip.findIndex((o) => o.holders.length > 0); i >= 0 && i + 1 < vip.length; i++) {
    if (vip[i].holders.length === 0) total += vip[i + 1].t - vip[i].t;
  }
  return total;
}

/** Changes of the single holder: a move seen through two holders or none still counts once. */
function vipMoves(vip) {
  let holder;
  let moves = 0;
  for (const o of vip) {
    if (o.holders.length !== 1) continue;
    if (holder !== undefined && o.holders[0] !== holder) moves++;
    holder = o.holders[0];
  }
  return moves;
}

const LOSS = 'kha-bench-loss';

/**
 * Drops this share of every packet a load balancer receives and sends on its
 * network (eth0: not loopback, where keepalived's check asks haproxy), with
 * iptables' statistic match in the machine's network namespace, set from this
 * host (the kernel here has no netem, and the lab's load balancers no
 * iptables); `-D` takes the rules out. A dropped outgoing packet is an EPERM
 * to its sender (keepalived logs "Cant send advert"), a lost one on the wire.
 */
function setLoss(inv, verb, percent) {
  for (const lb of inv.lbs) {
    for (const [chain, side] of [['INPUT', '-i'], ['OUTPUT', '-o']]) {
      const args = ['netns', 'exec', machineNetns(lb.name), 'iptables', verb, chain, side, 'eth0', '-m', 'statistic', '--mode', 'random', '--probability', String(percent / 100), '-m', 'comment', '--comment', LOSS, '-j', 'DROP'];
      const r = spawnSync('ip', args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${lb.name}: ip ${args.join(' ')}: ${r.stderr.trim()}`);
    }
  }
}

async function soak(ctx, minutes, lossPercent = 0) {
  const { inv, sessions } = ctx;
  const ms = Math.round(minutes * 60_000);
  const since = Math.floor(Date.now() / 1000) - 1;
  const all = (command) => Promise.all(inv.lbs.map(async (lb) => [lb.name, await exec(sessions.get(lb.name), command)]));
  if (lossPercent > 0) setLoss(inv, '-I', lossPercent);
  // One busy loop per core, as units with a run-time limit: they end even if this bench dies with the lab up.
  const started = await all(
    `n=$(nproc); for i in $(seq "$n"); do systemd-run --quiet --unit=${BURN}-$i --property=RuntimeMaxSec=${Math.ceil(ms / 1000) + 300} /bin/sh -c 'while :; do :; done'; done; echo "$n"`,
  );
  const out = { busyLoopsPerLb: Object.fromEntries(started.map(([h, n]) => [h, Number(n.trim())])), lossPercent };
  try {
    say(`soak: ${minutes} min, both load balancers under full CPU load${lossPercent > 0 ? `, losing ${lossPercent} % of their packets` : ''}, client and VIP watch running`);
    const t0 = performance.now();
    // The watcher's own sessions: no host is cut off here, and under load a slow answer must not read as a lost VIP.
    const client = startClient(inv, t0);
    const watch = startVipWatch(inv, sessions, t0);
    for (let left = ms; left > 0; left -= 60_000) {
      await sleep(Math.min(left, 60_000));
      say(`  ${((ms - Math.max(left - 60_000, 0)) / 60_000).toFixed(1)} min`);
    }
    out.cpuSecondsPerLb = Object.fromEntries(
      (await all(`for u in $(systemctl list-units --plain --no-legend '${BURN}-*' | awk '{print $1}'); do ps -o times= -p "$(systemctl show -p MainPID --value "$u")"; done`)).map(
        ([h, o]) => [h, o.split('\n').filter(Boolean).reduce((a, b) => a + Number(b), 0)],
      ),
    );
    const [samples, vip] = await Promise.all([client.stop(), watch.stop()]);
    const end = performance.now() - t0;
    const worst = longestOutage(samples, end);
    Object.assign(out, {
      seconds: end / 1000,
      loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
      sent: samples.length,
      failed: samples.filter((s) => !s.ok).length,
      longestOutageS: worst ? (worst.to - worst.from) / 1000 : 0,
      vipMoves: vipMoves(vip),
      holders: [...new Set(vip.flatMap((o) => o.holders))],
      twoHoldersS: dualHolding(vip) / 1000,
      zeroHoldersS: zeroHolding(vip) / 1000,
    });
  } finally {
    await all(`systemctl stop '${BURN}-*'`);
    if (lossPercent > 0) setLoss(inv, '-D', lossPercent);
  }
  // keepalived's own account of the soak: state changes and failed checks, or every line after a move.
  const journal = await all(`journalctl -u keepalived --since @${since} -o short-iso-precise --no-pager`);
  out.keepalivedJournal = Object.fromEntries(
    journal.map(([h, text]) => {
      const lines = text.split('\n').filter((l) => l && !l.startsWith('-- '));
      const shown = out.vipMoves > 0 || out.twoHoldersS > 0 || out.zeroHoldersS > 0 ? lines : lines.filter((l) => /STATE|Script|failed|succeeded|priority/i.test(l));
      return [h, { lines: lines.length, shown }];
    }),
  );
  return out;
}

// ------------------------------------------------------------------ printing

const num = (x, digits = 2) => (x === null || x === undefined ? '-' : x.toFixed(digits));

function targetsOf(kha) {
  return kha.faults
    .filter((r) => FAULTS[r.fault].target && r.failover)
    .map((r) => {
      const t = FAULTS[r.fault].target;
      const m = r.failover;
      const met = t.maxS !== undefined ? m.longestOutageS <= t.maxS : m.failed <= t.failed;
      const want = t.maxS !== undefined ? `longest outage ≤ ${t.maxS} s` : `${t.failed} failed requests`;
      const got = t.maxS !== undefined ? `${m.longestOutageS.toFixed(2)} s` : `${m.failed} of ${m.sent} failed`;
      return { fault: r.fault, what: `${t.text}: ${want}`, measured: got, met };
    });
}

/** Columns padded to their widest cell. */
function formatTable(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((x, c) => (x ?? '').padEnd(widths[c] + 2)).join('').trimEnd());
}

function printRun(results, opts, inv, seconds) {
  const configs = results.map((r) => r.config);
  const get = (config, fault) => results.find((r) => r.config === config)?.faults.find((r) => r.fault === fault);
  const ratios = Object.fromEntries(
    opts.faults.map((fault) => {
      const k = get('kha', fault)?.failover;
      const g = get('guide', fault)?.failover;
      return [fault, k && g && k.longestOutageS > 0 ? g.longestOutageS / k.longestOutageS : null];
    }),
  );
  const kha = results.find((r) => r.config === 'kha');
  const targets = kha ? targetsOf(kha) : [];
  if (opts.json) {
    const probe = { intervalMs: PROBE_INTERVAL_MS, connectTimeoutMs: PROBE_CONNECT_TIMEOUT_MS, vip: inv.vip.address, port: inv.port };
    process.stdout.write(`${JSON.stringify({ probe, seconds, configurations: results, ratios, targets }, null, 2)}\n`);
    return;
  }
  const title = { kha: "kha's defaults", guide: 'the kubeadm guide (source 002) as written' };
  const lines = [
    `Client-visible failover on the lab (2 load balancers, 3 masters): ${configs.map((c) => title[c]).join(' vs ')}`,
    `client: a new TLS connection to ${inv.vip.address}:${inv.port} every ${PROBE_INTERVAL_MS} ms, connect timeout ${PROBE_CONNECT_TIMEOUT_MS} ms; the run took ${(seconds / 60).toFixed(1)} min`,
    ...results.map((r) => `${r.config}: ${r.packages?.join(', ') ?? ''}${r.error ? `  ERROR: ${r.error}` : ''}`),
  ];
  const moved = (w) => (w.holdersAtStart !== 1 ? '-' : w.vipTo ? `${num(w.vipMovedS)} ${w.vipTo}` : `none in ${num(w.seconds, 1)}`);
  const cols = [
    ['outage', (w) => num(w.longestOutageS)],
    ['failed/sent', (w) => `${w.failed}/${w.sent}`],
    ['VIP moved', moved],
    ['2 holders', (w) => `${num(w.twoHoldersS)}${w.holdersAtEnd > 1 ? '+' : ''}`],
    ['default client', (w) => `${w.defaultClient.failed}/${w.defaultClient.sent} ${num(w.defaultClient.slowestS)}`],
  ];
  const table = (window) => {
    const ratio = window === 'failover' && configs.length === 2;
    // The ratio right after the two outages it compares.
    const at = 1 + configs.length;
    const head = ['fault', ...cols.flatMap(([name]) => configs.map((c) => `${name} ${c}`))];
    const rows = [ratio ? head.toSpliced(at, 0, 'guide/kha') : head];
    for (const fault of opts.faults) {
      const cells = cols.flatMap(([, pick]) =>
        configs.map((c) => {
          const r = get(c, fault);
          return r?.[window] ? pick(r[window]) : r?.error ? 'error' : '';
        }),
      );
      const row = [fault, ...cells];
      rows.push(ratio ? row.toSpliced(at, 0, ratios[fault] === null ? '-' : `${ratios[fault].toFixed(1)}x`) : row);
    }
    return formatTable(rows);
  };
  lines.push('', 'From the fault to its restore (s; VIP moved: from the injection to a new holder; +: still two holders at the restore;');
  lines.push('default client: a request every 500 ms without a connect timeout of its own, failed/sent and its slowest answer):');
  lines.push(...table('failover'));
  const streamRows = configs.flatMap((c) =>
    opts.faults.flatMap((fault) => {
      const w = get(c, fault)?.failover;
      if (w?.streamsUnavailable) return [[`${c} ${fault}`, `none: ${w.streamsUnavailable}`]];
      return (w?.streams ?? []).map((x) =>
        x.stalledS === 0
          ? [`${c} ${fault}`, x.name, 'flowed throughout', '-', '-']
          : [`${c} ${fault}`, x.name, `stalled ${num(x.stalledS)}`, x.how ? `knew by ${x.how} at ${num(x.knewS)}` : 'never knew', x.resumedS === null ? 'still stuck at the restore' : `resumed at ${num(x.resumedS)}`],
      );
    }),
  );
  if (streamRows.length > 0) {
    lines.push('', `Held streams (s from the fault; held ${STREAM_HOLD_MS / 1000} s, then the fault was restored):`);
    lines.push(...formatTable(streamRows));
  }
  lines.push('', 'From the restore until settled again (s; VIP moved: a failback):');
  lines.push(...table('restore'));
  for (const c of configs) for (const r of results.find((x) => x.config === c).faults) if (r.error) lines.push(`${c} ${r.fault}: ${r.error}`);
  if (targets.length > 0) {
    lines.push('', "Issue 6's targets for kha's defaults (longest outage from the fault to its restore):");
    lines.push(...formatTable(targets.map((t) => [`  ${t.what}`, t.measured, t.met ? 'met' : 'NOT met'])));
  }
  console.log(lines.join('\n'));
}

/** Issue 15's target for the advert interval: crash and link down over within this, and no false failover in the soak. */
const ADVERT_TARGET_S = 0.5;

function printAdverts(runs, opts, inv, seconds) {
  const outage = (r, fault) => r.faults.find((f) => f.fault === fault)?.failover?.longestOutageS;
  const verdict = (r) => {
    const fast = ['crash', 'link-down'].every((f) => (outage(r, f) ?? Infinity) <= ADVERT_TARGET_S);
    const quiet = r.soak?.vipMoves === 0 && r.soak.twoHoldersS === 0;
    return fast && quiet ? 'meets' : `misses (${[...(fast ? [] : ['a fault too slow']), ...(quiet ? [] : ['false failover in the soak'])].join(', ')})`;
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ seconds, lossPercent: opts.lossPercent ?? 1, targetS: ADVERT_TARGET_S, runs: runs.map((r) => ({ ...r, verdict: verdict(r) })) }, null, 2)}\n`);
    return;
  }
  const rows = [['advert_int', ...ADVERT_FAULTS.map((f) => `${f} outage`), 'soak VIP moves', '2 holders', 'no holder', 'soak failed/sent', 'soak longest outage', 'target']];
  for (const r of runs) {
    const s = r.soak;
    rows.push([
      `${r.advertS} s`,
      ...ADVERT_FAULTS.map((f) => num(outage(r, f))),
      s ? String(s.vipMoves) : '-',
      s ? num(s.twoHoldersS) : '-',
      s ? num(s.zeroHoldersS) : '-',
      s ? `${s.failed}/${s.sent}` : '-',
      s ? num(s.longestOutageS) : '-',
      r.error ? `error: ${r.error}` : verdict(r),
    ]);
  }
  const lines = [
    `Advert intervals on the lab (2 load balancers, 3 masters; kha's defaults otherwise), the run took ${(seconds / 60).toFixed(1)} min`,
    `faults: longest outage (s) of a new TLS connection to ${inv.vip.address}:${inv.port} every ${PROBE_INTERVAL_MS} ms, from the fault to its restore`,
    `soak: ${opts.soakMinutes ?? 10} min idle, both load balancers under full CPU load and dropping ${opts.lossPercent ?? 1} % of the packets they receive and send`,
    `target: crash and link-down ≤ ${ADVERT_TARGET_S} s, and no false failover (no VIP move, no two holders) in the soak`,
    '',
    ...formatTable(rows),
  ];
  for (const r of runs) for (const f of r.faults) if (f.error) lines.push(`${r.advertS} s ${f.fault}: ${f.error}`);
  for (const r of runs) {
    for (const [h, j] of Object.entries(r.soak?.keepalivedJournal ?? {})) {
      if (j.shown.length === 0) continue;
      lines.push(`${r.advertS} s: keepalived journal on ${h} during the soak (${j.lines} lines):`);
      for (const l of j.shown.slice(0, 20)) lines.push(`  ${l}`);
    }
  }
  console.log(lines.join('\n'));
}

function printSoak(s, inv, json) {
  if (json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return;
  }
  const loss = s.lossPercent > 0 ? `, dropping ${s.lossPercent} % of their packets` : '';
  const lines = [`Soak: kha's defaults idle for ${num(s.seconds / 60, 1)} min, both load balancers under full CPU load${loss} (${s.packages?.join(', ') ?? ''})`];
  if (s.error) lines.push(`ERROR: ${s.error}`);
  if (s.busyLoopsPerLb) lines.push(`busy loops: ${Object.entries(s.busyLoopsPerLb).map(([h, n]) => `${h} ${n}`).join(', ')}; their CPU time: ${Object.entries(s.cpuSecondsPerLb ?? {}).map(([h, c]) => `${h} ${c} s`).join(', ')}; host load average ${s.loadAverage?.join(' ')}`);
  if (s.sent !== undefined) {
    lines.push(`client: a new TLS connection to ${inv.vip.address}:${inv.port} every ${PROBE_INTERVAL_MS} ms: ${s.failed}/${s.sent} failed, longest outage ${num(s.longestOutageS)} s`);
    lines.push(`VIP: ${s.vipMoves} moves (held by ${s.holders.join(', ')}), two holders ${num(s.twoHoldersS)} s, no holder ${num(s.zeroHoldersS)} s`);
    lines.push(s.vipMoves === 0 ? 'no false failover' : `FALSE FAILOVER: the VIP moved ${s.vipMoves} times without a fault`);
  }
  for (const [h, j] of Object.entries(s.keepalivedJournal ?? {})) {
    lines.push(`keepalived journal on ${h} during the soak: ${j.lines} lines${j.shown.length > 0 ? ':' : ', none about states or checks'}`);
    for (const l of j.shown) lines.push(`  ${l}`);
  }
  console.log(lines.join('\n'));
}

// ------------------------------------------------------------------ entry

const i = process.argv.indexOf('--agent');
if (i >= 0) {
  const result = await agent(JSON.parse(process.argv[i + 1]));
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
} else {
  process.exitCode = await orchestrate(parseArgs(process.argv.slice(2)));
}
