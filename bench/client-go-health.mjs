#!/usr/bin/env node
// How long a real client-go watch stays stuck after its path is silently
// dropped, with client-go's defaults and with HTTP2_READ_IDLE_TIMEOUT_SECONDS
// and HTTP2_PING_TIMEOUT_SECONDS set, side by side in one run, for each
// kubectl binary given. Why: when a load balancer holding the VIP loses power,
// the kubelets' watches through the VIP send into nothing and hear nothing;
// no RST ever comes, and they hang until client-go's HTTP/2 health check
// (a PING after that many seconds without a frame, then that long for its
// answer: 30 + 15 s by default) gives up and they reconnect to the new holder.
// kha sets the two variables in a kubelet drop-in when hosts.yaml asks (its
// `kubelet:` section; 5 and 3 s by default, this bench's --settings default
// too); these are the figures behind that (docs/live-connections.md, point 5).
//
// Each case is one `kubectl get configmaps -w -v=6` against a minimal API
// stand-in (bench/h2-apiserver.py: HTTP/2 over TLS, a MODIFIED event every
// 0.1 s) in a network namespace, on a port of its own; after the watch has
// delivered events for 2 s, iptables in that namespace drops the port's
// packets both ways (a powered-off holder) or answers them with a RST (the
// contrast: a path that dies loudly). Measured: seconds from the rule to
// kubectl noticing (its first line that is not an event, or its exit: `get
// -w` exits 0 without reconnecting). Every case runs at once, each on its own
// port, so a run takes about a minute. Prints figures; asserts nothing.
//
// Run as root (network namespace, iptables), with /usr/bin/python3's h2
// (Debian: apt-get install python3-h2), openssl, iproute2 and iptables:
//   node bench/client-go-health.mjs [--kubectl BIN,BIN] [--runs N] [--settings READ_IDLE,PING] [--json]
// --kubectl defaults to `kubectl` on PATH. Debian 12's kubectl 1.20.2 (its
// package conflicts with the `kubectl` package) can sit beside it:
//   cd /tmp && apt-get download kubernetes-client && dpkg-deb -x kubernetes-client_*.deb /tmp/k120
//   node bench/client-go-health.mjs --kubectl /usr/bin/kubectl,/tmp/k120/usr/bin/kubectl
// The stand-in's namespace (khabench-h2) and the clients' (khabench-h2c),
// joined by a veth pair with 10.98.0.0/30, are gone at the end, also after an
// error or Ctrl-C. One run at a time: a second takes the first's namespaces.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const server = join(dirname(fileURLToPath(import.meta.url)), 'h2-apiserver.py');
// Debian's python3-h2 is for Debian's python, whatever else is first on PATH.
const PYTHON = '/usr/bin/python3';
const SERVER_NETNS = 'khabench-h2';
const CLIENT_NETNS = 'khabench-h2c';
const SERVER_LINK = 'khabench-h1';
const CLIENT_LINK = 'khabench-h0';
const CLIENT_ADDRESS = '10.98.0.1';
const SERVER_ADDRESS = '10.98.0.2';
const FIRST_PORT = 7443;
/** The stand-in's one configmap: kubectl prints each event as a line starting with its name. */
const CONFIGMAP = 'khabench';
/** client-go's own defaults (apimachinery, pkg/util/net/http.go). */
const READ_IDLE_DEFAULT_S = 30;
const PING_TIMEOUT_DEFAULT_S = 15;
const EVENT_INTERVAL_S = 0.1;
/** Events have flowed this long before the fault: the watch is up, discovery is over. */
const FLOW_MS = 2000;
const FIRST_EVENT_TIMEOUT_MS = 20_000;
/** A case waits this long past its expected notice before it counts as never noticed. */
const GRACE_S = 30;
/** With the check off only TCP keepalive is left: 166 s with Go's defaults since 1.23, 308 s with go1.19's. */
const KEEPALIVE_CAP_S = 360;
/** kubectl starts are spread out a little, so that on two cores none is slowed by the others' start. */
const STAGGER_MS = 150;

const USAGE = 'usage: node bench/client-go-health.mjs [--kubectl BIN,BIN] [--runs N] [--settings READ_IDLE,PING] [--json]';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (text) => process.stderr.write(`${text}\n`);

function parseArgs(argv) {
  const o = { kubectls: ['kubectl'], runs: 1, readIdleS: 5, pingTimeoutS: 3, json: false };
  const bad = (text) => {
    process.stderr.write(`${text}\n${USAGE}\n`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--kubectl') {
      o.kubectls = (argv[++i] ?? '').split(',').filter(Boolean);
      if (o.kubectls.length === 0) bad('--kubectl takes kubectl binaries, separated by commas');
    } else if (a === '--runs') {
      o.runs = Number(argv[++i]);
      if (!Number.isInteger(o.runs) || o.runs < 1) bad('--runs takes a whole number from 1');
    } else if (a === '--settings') {
      [o.readIdleS, o.pingTimeoutS] = (argv[++i] ?? '').split(',').map(Number);
      if (![o.readIdleS, o.pingTimeoutS].every((s) => Number.isInteger(s) && s >= 0) || o.pingTimeoutS === 0) {
        bad('--settings takes HTTP2_READ_IDLE_TIMEOUT_SECONDS,HTTP2_PING_TIMEOUT_SECONDS in whole seconds, like 5,3 (0,N turns the check off)');
      }
    } else bad(`unknown argument ${a}`);
  }
  return o;
}

function casesFor({ readIdleS, pingTimeoutS }) {
  const settingsLabel = readIdleS === 0 ? 'check off (read idle 0)' : `read idle ${readIdleS} + ping ${pingTimeoutS} s`;
  return [
    { name: 'defaults', label: `defaults (${READ_IDLE_DEFAULT_S} + ${PING_TIMEOUT_DEFAULT_S} s), silent drop`, env: {}, fault: 'drop', expectedS: READ_IDLE_DEFAULT_S + PING_TIMEOUT_DEFAULT_S },
    {
      name: 'settings',
      label: `${settingsLabel}, silent drop`,
      env: { HTTP2_READ_IDLE_TIMEOUT_SECONDS: String(readIdleS), HTTP2_PING_TIMEOUT_SECONDS: String(pingTimeoutS) },
      fault: 'drop',
      expectedS: readIdleS === 0 ? null : readIdleS + pingTimeoutS,
    },
    // The RST answers the client's next ACK, sent for the next event.
    { name: 'rst', label: 'defaults, RST', env: {}, fault: 'rst', expectedS: EVENT_INTERVAL_S },
  ];
}

const FAULT_RULES = {
  drop: (port) => [`-I INPUT -p tcp --dport ${port} -j DROP`, `-I OUTPUT -p tcp --sport ${port} -j DROP`],
  rst: (port) => [`-I INPUT -p tcp --dport ${port} -j REJECT --reject-with tcp-reset`],
};

// ------------------------------------------------------------ processes

/** Every child still running, with the promise of its end: the cleanup waits for them before the namespace goes. */
const children = new Map();

function start(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  const closed = new Promise((resolve) => {
    child.on('error', (error) => resolve({ at: performance.now(), code: null, error: error.message }));
    child.on('close', (code, signal) => resolve({ at: performance.now(), code, signal }));
  }).finally(() => children.delete(child));
  children.set(child, closed);
  return { child, closed };
}

/** Runs a command to its end without blocking the event loop: the watches' lines are timestamped meanwhile. */
async function run(command, args, input = '') {
  const { child, closed } = start(command, args);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.on('error', () => {});
  child.stdin.end(input);
  const { code, error } = await closed;
  return { code, stdout, stderr: error ?? stderr };
}

async function must(command, args, input) {
  const r = await run(command, args, input);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

function onPath(name) {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(delimiter).map((d) => join(d, name));
  return candidates.find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Timestamped lines of a child's stdout and stderr, as they come. */
function collectLines(child) {
  const lines = [];
  for (const stream of ['stdout', 'stderr']) {
    let rest = '';
    child[stream].setEncoding('utf8').on('data', (chunk) => {
      const at = performance.now();
      const parts = (rest + chunk).split('\n');
      rest = parts.pop();
      for (const text of parts) lines.push({ at, stream, text });
    });
  }
  return lines;
}

// ------------------------------------------------------------ the setup

async function preflight(opts) {
  if (process.getuid?.() !== 0) throw new Error('bench/client-go-health.mjs needs root (a network namespace, iptables)');
  if ((await run(PYTHON, ['-c', 'import h2'])).code !== 0) {
    throw new Error(`the stand-in needs the h2 library for ${PYTHON}: apt-get install python3-h2`);
  }
  for (const tool of ['openssl', 'ip', 'iptables-restore']) if (!onPath(tool)) throw new Error(`${tool} not found (Debian: apt-get install openssl iproute2 iptables)`);
  return opts.kubectls.map((k) => {
    const path = onPath(k);
    if (!path) throw new Error(`kubectl binary not found: ${k} (Debian's 1.20.2: apt-get download kubernetes-client && dpkg-deb -x kubernetes-client_*.deb /tmp/k120)`);
    return path;
  });
}

/**
 * The clients get a namespace of their own too, with no route but the veth:
 * a dropped connection's socket outlives its process, retransmitting for
 * minutes, and from the host's namespace it would go out by the default
 * route once the veth is gone.
 */
async function netnsUp() {
  await netnsDown();
  for (const ns of [SERVER_NETNS, CLIENT_NETNS]) {
    await must('ip', ['netns', 'add', ns]);
    await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  await must('ip', ['-n', CLIENT_NETNS, 'link', 'add', CLIENT_LINK, 'type', 'veth', 'peer', 'name', SERVER_LINK, 'netns', SERVER_NETNS]);
  for (const [ns, link, address] of [[CLIENT_NETNS, CLIENT_LINK, CLIENT_ADDRESS], [SERVER_NETNS, SERVER_LINK, SERVER_ADDRESS]]) {
    await must('ip', ['-n', ns, 'addr', 'add', `${address}/30`, 'dev', link]);
    await must('ip', ['-n', ns, 'link', 'set', link, 'up']);
  }
}

/** Also clears what a run killed outright left: namespaces of these names are this bench's own. */
async function netnsDown() {
  for (const ns of [CLIENT_NETNS, SERVER_NETNS]) await run('ip', ['netns', 'del', ns]);
}

/** The stand-in, listening on every case's port; resolves with the user agent of each port's watches as they open. */
async function startServer(dir, ports) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await must('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=khabench', '-addext', `subjectAltName=IP:${SERVER_ADDRESS}`, '-keyout', key, '-out', cert,
  ]);
  const { child, closed } = start('ip', ['netns', 'exec', SERVER_NETNS, PYTHON, server, cert, key, SERVER_ADDRESS, ...ports.map(String)]);
  const userAgents = new Map();
  const lines = collectLines(child);
  const listening = new Promise((resolve, reject) => {
    let seen = 0;
    const poll = setInterval(() => {
      const fresh = lines.slice(seen);
      seen = lines.length;
      for (const { stream, text } of fresh) {
        if (stream !== 'stdout') continue;
        const m = JSON.parse(text);
        if (m.listening) resolve();
        if (m.watch) userAgents.set(m.port, [...(userAgents.get(m.port) ?? []), m.userAgent]);
      }
    }, 20);
    closed.then(({ code }) => {
      clearInterval(poll);
      reject(new Error(`the stand-in exited ${code}: ${lines.filter((l) => l.stream === 'stderr').map((l) => l.text).join('\n')}`));
    });
  });
  await listening;
  return userAgents;
}

function kubeconfig(port) {
  // Insecure is fine for a stand-in made a moment ago; the token is never checked, but without any
  // credential kubectl asks for a username on its terminal.
  return `apiVersion: v1
kind: Config
clusters:
- name: khabench
  cluster: {server: "https://${SERVER_ADDRESS}:${port}", insecure-skip-tls-verify: true}
users:
- name: khabench
  user: {token: unchecked}
contexts:
- name: khabench
  context: {cluster: khabench, user: khabench, namespace: default}
current-context: khabench
`;
}

// ------------------------------------------------------------ one case

/**
 * kubectl's lines that report an event rather than the watch's end: its rows,
 * and for 1.32 a klog line at -v=6 for each row ("Unable to decode server
 * response into a Table": the stand-in serves no Table).
 */
const isEvent = (l) => (l.stream === 'stdout' && l.text.startsWith(CONFIGMAP)) || l.text.includes('table_printer');
const stripKlog = (text) => text.replace(/^[IWEF]\d{4} [\d:.]+\s+\d+ [^\]]+\] /, '').replace(/\s+/g, ' ').trim();

async function watchCase(c, kubectl, port, dir) {
  const home = join(dir, `home-${port}`);
  mkdirSync(home);
  const config = join(home, 'kubeconfig');
  writeFileSync(config, kubeconfig(port));
  // A HOME of its own: a fresh discovery cache, so every client asks the stand-in for discovery.
  const env = { ...process.env, HOME: home };
  delete env.HTTP2_READ_IDLE_TIMEOUT_SECONDS;
  delete env.HTTP2_PING_TIMEOUT_SECONDS;
  Object.assign(env, c.env);
  const { child, closed } = start('ip', ['netns', 'exec', CLIENT_NETNS, kubectl, '--kubeconfig', config, 'get', 'configmaps', '-w', '-v=6'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = collectLines(child);
  let exit = null;
  closed.then((e) => (exit = e));
  const began = performance.now();
  const tail = () => lines.slice(-3).map((l) => stripKlog(l.text)).join(' | ');

  for (;;) {
    const first = lines.find(isEvent);
    if (first && performance.now() - first.at >= FLOW_MS) break;
    if (exit) return { error: `kubectl exited ${exit.code ?? exit.error} before the fault: ${tail()}` };
    if (!first && performance.now() - began > FIRST_EVENT_TIMEOUT_MS) {
      child.kill('SIGKILL');
      return { error: `no event in ${FIRST_EVENT_TIMEOUT_MS / 1000} s: ${tail()}` };
    }
    await sleep(20);
  }
  const rules = FAULT_RULES[c.fault](port);
  await must('ip', ['netns', 'exec', SERVER_NETNS, 'iptables-restore', '--noflush'], `*filter\n${rules.join('\n')}\nCOMMIT\n`);
  const faultAt = performance.now();
  const before = lines.filter((l) => l.at <= faultAt && l.stream === 'stdout' && isEvent(l));
  const capS = c.expectedS === null ? KEEPALIVE_CAP_S : c.expectedS + GRACE_S;
  await Promise.race([closed, sleep(capS * 1000)]);
  if (!exit) child.kill('SIGKILL');
  // Only the cleanup kills a client that has not been waited out: a stop, not a notice.
  else if (exit.signal) return { error: `stopped (${exit.signal})` };
  const after = lines.filter((l) => l.at > faultAt);
  const told = after.filter((l) => !isEvent(l) && l.text.trim());
  const noticedAt = Math.min(told[0]?.at ?? Infinity, exit?.at ?? Infinity);
  return {
    noticedS: Number.isFinite(noticedAt) ? (noticedAt - faultAt) / 1000 : null,
    exitedS: exit ? (exit.at - faultAt) / 1000 : null,
    exitCode: exit?.code ?? null,
    eventsBeforeFault: before.length,
    lastEventAgeS: (faultAt - before.at(-1).at) / 1000,
    eventsAfterFault: after.filter((l) => l.stream === 'stdout' && isEvent(l)).length,
    capS,
    said: told.map((l) => stripKlog(l.text)),
  };
}

/** The cause in kubectl's words, short enough for a table cell. */
function cause(said) {
  const text = said.find((s) => /error|unable|lost|reset|EOF|timeout/i.test(s)) ?? said[0];
  if (!text) return '';
  return /(http2: [a-z ]+[a-z]|connection reset by peer|connection timed out|unexpected EOF|i\/o timeout|broken pipe)/.exec(text)?.[1] ?? text.slice(0, 60);
}

// ------------------------------------------------------------ the run

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const num = (x, digits = 2) => (x === null || x === undefined ? '-' : x.toFixed(digits));

async function measure(opts, kubectls, dir, started) {
  const cases = casesFor(opts);
  const plan = kubectls.flatMap((kubectl) => cases.flatMap((c) => Array.from({ length: opts.runs }, () => ({ kubectl, c }))));
  plan.forEach((p, i) => (p.port = FIRST_PORT + i));
  say(`${plan.length} watches (${kubectls.length} kubectl × ${cases.length} cases × ${opts.runs} run${opts.runs > 1 ? 's' : ''}), all at once`);
  const userAgents = await startServer(dir, plan.map((p) => p.port));
  const outcomes = await Promise.all(
    plan.map(async (p, i) => {
      await sleep(i * STAGGER_MS);
      const r = await watchCase(p.c, p.kubectl, p.port, dir).catch((e) => ({ error: e.message }));
      say(`${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s  ${p.kubectl}  ${p.c.label}: ${r.error ? `ERROR ${r.error}` : r.noticedS === null ? `not noticed in ${r.capS} s` : `noticed after ${num(r.noticedS)} s`}`);
      return { ...p, result: { port: p.port, userAgent: userAgents.get(p.port)?.[0] ?? null, ...r } };
    }),
  );
  return kubectls.flatMap((kubectl) =>
    cases.map((c) => {
      const runs = outcomes.filter((o) => o.kubectl === kubectl && o.c === c).map((o) => o.result);
      const noticed = runs.map((r) => r.noticedS).filter((s) => s !== null && s !== undefined);
      return {
        kubectl,
        userAgent: runs.find((r) => r.userAgent)?.userAgent ?? null,
        case: c.name,
        label: c.label,
        fault: c.fault,
        env: c.env,
        expectedS: c.expectedS,
        minS: noticed.length ? Math.min(...noticed) : null,
        medianS: noticed.length ? median(noticed) : null,
        maxS: noticed.length ? Math.max(...noticed) : null,
        runs,
      };
    }),
  );
}

/** Columns padded to their widest cell. */
function formatTable(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((x, c) => (x ?? '').padEnd(widths[c] + 2)).join('').trimEnd());
}

function print(results, opts, seconds) {
  if (opts.json) {
    const settings = { HTTP2_READ_IDLE_TIMEOUT_SECONDS: opts.readIdleS, HTTP2_PING_TIMEOUT_SECONDS: opts.pingTimeoutS };
    process.stdout.write(`${JSON.stringify({ seconds, runs: opts.runs, settings, eventIntervalS: EVENT_INTERVAL_S, cases: results }, null, 2)}\n`);
    return;
  }
  const many = opts.runs > 1;
  const head = ['kubectl', 'client', 'case', 'expected', 'noticed', ...(many ? ['min', 'median', 'max'] : []), 'told by'];
  const rows = [head];
  let previous;
  for (const r of results) {
    const noticed = r.runs.map((x) => (x.error ? 'error' : x.noticedS === null ? `>${x.capS}` : num(x.noticedS))).join(' ');
    const same = r.kubectl === previous;
    previous = r.kubectl;
    rows.push([
      same ? '' : r.kubectl,
      same ? '' : (r.userAgent?.split(' ')[0] ?? '?'),
      r.label,
      r.expectedS === null ? 'keepalive' : r.fault === 'rst' ? `<${r.expectedS}` : String(r.expectedS),
      noticed,
      ...(many ? [num(r.minS), num(r.medianS), num(r.maxS)] : []),
      [...new Set(r.runs.map((x) => (x.error ? '' : cause(x.said))).filter(Boolean))].join('; '),
    ]);
  }
  const lines = [
    `client-go's HTTP/2 health check, real clients: \`kubectl get configmaps -w -v=6\` over HTTP/2, an event every ${EVENT_INTERVAL_S} s, then the path`,
    `lost (iptables in the stand-in's network namespace). Seconds from the rule to kubectl noticing; ${opts.runs} run${many ? 's' : ''} per case, all at once;`,
    `the run took ${seconds.toFixed(0)} s.`,
    '',
    ...formatTable(rows),
    '',
    `client-go counts from the last frame it received, up to ${EVENT_INTERVAL_S} s before the rule: a drop is noticed a little before the expected sum.`,
  ];
  for (const r of results) for (const x of r.runs) if (x.error) lines.push(`${r.kubectl} ${r.label}: ${x.error}`);
  console.log(lines.join('\n'));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = performance.now();
  let cleaning;
  const cleanup = (dir) =>
    (cleaning ??= (async () => {
      for (const child of children.keys()) child.kill('SIGKILL');
      await Promise.all(children.values());
      await netnsDown();
      if (dir) rmSync(dir, { recursive: true, force: true });
    })());
  let dir;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      say(`${signal}: stopping, then removing the network namespaces`);
      cleanup(dir).finally(() => process.exit(130));
    });
  }
  try {
    const kubectls = await preflight(opts);
    dir = mkdtempSync(join(tmpdir(), 'khabench-h2-'));
    await netnsUp();
    const results = await measure(opts, kubectls, dir, started);
    await cleanup(dir);
    print(results, opts, (performance.now() - started) / 1000);
    return results.some((r) => r.runs.some((x) => x.error)) ? 1 : 0;
  } finally {
    await cleanup(dir);
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    say(`bench/client-go-health.mjs: ${error.message}`);
    process.exit(1);
  },
);
