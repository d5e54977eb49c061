import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labUp } from '../../src/lab/lifecycle.js';
import { inventoryOf, onHost, runKha, timedKha } from './harness.js';

// Issue 14, point 2: apply converges the local proxy on every node (source
// 001): 127.0.0.1:6443 in front of every apiserver, haproxy by default,
// nginx when asked, the distribution's own service left off. Point 5: the
// drills from a node measure a master lost through that proxy. Two load
// balancers, three masters with the apiserver stand-in, two workers.

const W = { w1: '10.77.0.31', w2: '10.77.0.32' };
const M3 = '10.77.0.23';
let hostsYaml = '';

const kha = (args: string[]) => runKha([...args, hostsYaml]);
const lab = (...args: string[]) => runKha(['lab', ...args], undefined, 300_000);

/** Through the node's proxy to an apiserver, as its kubelet would go: `ok` or how curl failed. */
function throughProxy(node: string): string {
  return onHost(node, 'curl -sk -o /dev/null --max-time 3 https://127.0.0.1:6443/readyz && echo ok || echo "failed $?"').trim();
}

function health(node: string): string {
  return onHost(node, "curl -s -o /dev/null -w '%{http_code}' --max-time 3 http://127.0.0.1:8405/kha-health || true").trim();
}

/** systemctl's word for a unit on a node (is-active and is-enabled exit non-zero with a word still printed). */
function unit(node: string, verb: 'is-active' | 'is-enabled', name: string): string {
  return onHost(node, `systemctl ${verb} ${name} 2>/dev/null || true`).trim() || 'not-found';
}

/** The drill rules left in a host's INPUT chain: none once a drill has healed it. */
function drillRules(address: string): string {
  return onHost(address, 'iptables -S INPUT | grep -c kha-drill || true').trim();
}

interface DrillJson {
  ok: boolean;
  drills: {
    name: string;
    passed: boolean;
    caveat?: string;
    expectations: { name: string; held: boolean; detail: string }[];
    timeline: { node?: { host: string; url: string; samples: unknown[] } };
    summary: { node?: { failed: number; sent: number; longestOutageMs: number; slowestMs: number } };
  }[];
}

/** One drill from a node under --json: its result, and its figures on the test's log. */
function nodeDrill(name: string, ...flags: string[]): DrillJson['drills'][number] {
  const r = timed(['verify-failover', '--drill', name, '--json', ...flags]);
  const out = JSON.parse(r.stdout) as DrillJson;
  const d = out.drills[0]!;
  console.log(`${name}: ${d.expectations.map((e) => `${e.held ? 'held' : 'NOT MET'}: ${e.name}: ${e.detail}`).join(' | ')}`);
  expect(d.expectations.filter((e) => !e.held), r.stderr).toEqual([]);
  expect(r.code).toBe(0);
  return d;
}

const timed = (args: string[]) => timedKha(args, hostsYaml);

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the lab tests need root');
  await labDown(process.env, () => undefined);
  hostsYaml = (await labUp({ lbs: 2, masters: 3, workers: 2 }, process.env, () => undefined)).hostsYaml;
}, 1_200_000);

afterAll(async () => {
  await labDown(process.env, () => undefined);
}, 300_000);

describe('the local proxy on the nodes', () => {
  it('lab up --workers 2 writes them under nodes:, with the proxy defaults', () => {
    const inv = inventoryOf(hostsYaml);
    expect(inv.nodes.map((n) => `${n.name} ${n.address}`)).toEqual(['w1 10.77.0.31', 'w2 10.77.0.32']);
    expect(inv.nodeProxy).toMatchObject({ port: 6443, software: 'haproxy', healthPort: 8405, masters: false });
  });

  it('--parallel 0 and --max-fail nonsense are refused before any host is touched (exit 2)', () => {
    const zero = kha(['apply', '--parallel', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--parallel 0: a whole number of hosts at a time, at least 1');
    expect(kha(['apply', '--parallel', '1.5']).code).toBe(2);
    expect(kha(['apply', '--max-fail', 'some']).code).toBe(2);
  });

  it("preflight: a port of the proxy taken on a node stops apply before anything changes, naming the service and the key", () => {
    onHost(W.w2, 'systemd-run --unit=kha-lab-squat python3 -m http.server --bind 127.0.0.1 8405 >/dev/null; sleep 1');
    try {
      const r = kha(['apply', '--yes']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('w2 [node-proxy-ports]: 127.0.0.1:8405 (node_proxy.health_port) is taken by kha-lab-squat.service (127.0.0.1:8405)');
      expect(r.stderr).toContain('nothing was changed on any host');
    } finally {
      onHost(W.w2, 'systemctl stop kha-lab-squat');
    }
  });

  it('--dry-run shows the proxy on each node: the package, the distribution service off, the files, the service', () => {
    const r = kha(['apply', '--dry-run']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    for (const w of Object.keys(W)) expect(r.stdout).toContain(w);
    expect(r.stdout).toContain('stop and disable haproxy (started by its package; kha runs kha-node-proxy instead)');
    expect(r.stdout).toContain('+++ /etc/kha/node-proxy/haproxy.cfg');
    expect(r.stdout).toContain('start kha-node-proxy');
    expect(unit(W.w1, 'is-active', 'kha-node-proxy')).not.toBe('active');
  });

  it('apply installs and starts the proxy on w1 and w2 (haproxy); it answers through to the apiservers', () => {
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('node proxies: 2/2 done, 0 failed');
    expect(r.stdout).toContain('w1: the proxy answers on 127.0.0.1:6443 (health 200: an apiserver is up behind it)');
    for (const w of Object.values(W)) {
      expect(unit(w, 'is-active', 'kha-node-proxy')).toBe('active');
      expect(unit(w, 'is-enabled', 'kha-node-proxy')).toBe('enabled');
      expect(throughProxy(w)).toBe('ok');
      expect(health(w)).toBe('200');
      // The distribution's haproxy, which Debian started on install, is off and stays off at boot.
      expect(unit(w, 'is-active', 'haproxy')).not.toBe('active');
      expect(unit(w, 'is-enabled', 'haproxy')).toBe('disabled');
    }
  });

  it('a second apply says No changes', () => {
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('No changes');
    expect(r.stdout).toContain('w1: 0 changed');
  });

  it('status shows each local proxy: serving, health 200, no drift; a proxy stopped is named, and apply starts it again', () => {
    // This lab's apiserver certificates come from lab up, not kubeadm: status is degraded for their SANs
    // whatever the proxies do, so what is asserted here is the proxies' part of it.
    const proxyProblems = (out: string) => out.split('\n').filter((l) => l.startsWith('  - ') && /local proxy/.test(l));
    const st = kha(['status']);
    expect(st.stdout).toContain('local proxies (haproxy on 127.0.0.1:6443): 2 of 2 serving an apiserver, as hosts.yaml says');
    expect(st.stdout).toContain('  w1: kha-node-proxy active, health 200, backends m1:UP m2:UP m3:UP, drift none');
    expect(proxyProblems(st.stdout)).toEqual([]);
    onHost(W.w2, 'systemctl stop kha-node-proxy');
    const stopped = kha(['status']);
    expect(stopped.code, stopped.stdout).toBe(1);
    expect(stopped.stdout).toContain('1 of 2 serving an apiserver');
    expect(proxyProblems(stopped.stdout)).toEqual(['  - w2: its local proxy (kha-node-proxy) is inactive', '  - w2: its local proxy differs from hosts.yaml (1 change kha apply would make)']);
    expect(stopped.stdout).toContain('  w2: would start kha-node-proxy');
    const again = kha(['apply', '--yes']);
    expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
    expect(unit(W.w2, 'is-active', 'kha-node-proxy')).toBe('active');
    expect(proxyProblems(kha(['status']).stdout)).toEqual([]);
  });

  it('--json lists every node with its outcome', () => {
    const r = kha(['apply', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; hosts: { host: string }[] };
    expect(out.ok).toBe(true);
    expect(out.hosts.map((h) => h.host)).toEqual(['lb1', 'lb2', 'w1', 'w2']);
  });

  it("verify-failover node-apiserver-stop: m3 refuses its port, no request through w1's proxy fails, and w1 drops m3 within inter + fastinter", () => {
    const d = nodeDrill('node-apiserver-stop');
    expect(d.timeline.node?.host).toBe('w1');
    expect(d.timeline.node?.url).toBe('https://127.0.0.1:6443/readyz');
    expect(d.timeline.node?.samples.length).toBeGreaterThan(50);
    expect(d.expectations.map((e) => e.name)).toEqual([
      "no failed request through w1's proxy, beyond one closed as m3 leaves rotation",
      'm3 out of rotation on w1 within 0.90 s',
      'every host restored',
    ]);
    expect(drillRules(M3)).toBe('0');
  });

  it("verify-failover node-master-crash from w2: m3 silent for w2 only, out of its rotation within the limit; the line, the table and the report's lane", () => {
    const report = join(dirname(hostsYaml), 'node-drills.html');
    const r = timed(['verify-failover', '--drill', 'node-master-crash', '--probe-from', 'w2', '--report', report]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("node-master-crash: m3 falls silent for w2 (a crash: w2 drops its packets), measured through w2's local proxy");
    expect(r.stdout).toMatch(/through w2's local proxy \(https:\/\/127\.0\.0\.1:6443\/readyz\): longest outage \d+\.\d\d s, \d+\/\d+ failed, slowest \d+\.\d\d s/);
    expect(r.stdout).toMatch(/m3 marked DOWN by haproxy on w2, \d\.\d\d s after the fault/);
    expect(r.stdout).toMatch(/^drill .* outage from w2 +outage through w2's proxy$/m);
    expect(r.stdout).toMatch(/^node-master-crash +pass /m);
    expect(readFileSync(report, 'utf8')).toContain('>w2 proxy</text>');
    expect(drillRules(W.w2)).toBe('0');
    const d = nodeDrill('node-master-crash');
    expect(d.expectations.map((e) => e.name)).toEqual(['m3 out of rotation on w1 within 1.90 s', "outage through w1's proxy ≤ 1.90 s", 'every host restored']);
  });

  it('without a host that runs the local proxy the drills from a node do not apply, and say why', () => {
    const bare = join(dirname(hostsYaml), 'no-nodes.yaml');
    writeFileSync(bare, readFileSync(hostsYaml, 'utf8').replace(/\nnodes:\n[\s\S]*$/, '\n'));
    expect(inventoryOf(bare).nodes).toEqual([]);
    const r = runKha(['verify-failover', '--drill', 'node-master-crash', bare]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--drill node-master-crash does not apply to ${bare}: hosts.yaml lists no host with the local proxy`);
  });

  it("a master's apiserver stopped: the proxy's requests are still answered (haproxy marks it down)", () => {
    expect(lab('fault', 'apiserver-stop', 'm3').code).toBe(0);
    try {
      // Let haproxy's checks find it (fall x inter), then every request must answer.
      const down = onHost(W.w1, "for i in $(seq 1 60); do curl -s 'http://127.0.0.1:8405/kha-stats;csv' | grep -q '^kube_apiserver,m3,.*,DOWN' && { echo down; exit 0; }; sleep 0.5; done; echo up").trim();
      expect(down).toBe('down');
      const results = Array.from({ length: 10 }, () => throughProxy(W.w1));
      expect(results.every((x) => x === 'ok'), results.join(', ')).toBe(true);
      expect(health(W.w1)).toBe('200');
    } finally {
      expect(lab('fault', 'apiserver-start', 'm3').code).toBe(0);
    }
  });

  it('--parallel 1 --max-fail 0: a node that fails stops the rollout before the next, which is listed as not started', () => {
    writeFileSync(hostsYaml, readFileSync(hostsYaml, 'utf8').replace('  software: haproxy', '  software: nginx'));
    // w1 cannot install nginx: its apt source is gone.
    onHost(W.w1, 'mv /etc/apt/sources.list /etc/apt/sources.list.away && rm -rf /var/lib/apt/lists/*');
    try {
      const r = kha(['apply', '--yes', '--parallel', '1', '--max-fail', '0', '--json']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
      const out = JSON.parse(r.stdout) as { ok: boolean; rollouts: { hosts: { host: string; outcome: string }[] }[] };
      expect(out.ok).toBe(false);
      expect(out.rollouts[0]!.hosts.map((h) => `${h.host} ${h.outcome}`)).toEqual(['w1 failed', 'w2 not started']);
      // Nothing was changed on w1 before the install failed: its haproxy proxy still answers; w2 was never touched.
      expect(throughProxy(W.w1)).toBe('ok');
      expect(onHost(W.w2, 'test -e /etc/kha/node-proxy/nginx.conf && echo yes || echo no').trim()).toBe('no');
      const human = kha(['apply', '--yes', '--parallel', '1']);
      expect(human.code).toBe(1);
      expect(human.stdout).toContain('node proxies: 0/2 done, 1 failed');
      expect(human.stdout).toContain('not started (more than --max-fail 0 failed, or stopped): w2');
    } finally {
      onHost(W.w1, 'mv /etc/apt/sources.list.away /etc/apt/sources.list');
    }
  });

  it('software: nginx replaces haproxy on the nodes; nginx answers through to the apiservers', () => {
    const dry = kha(['apply', '--dry-run']);
    expect(dry.stdout).toContain('install nginx, libnginx-mod-stream (apt)');
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    for (const w of Object.values(W)) {
      expect(unit(w, 'is-active', 'kha-node-proxy')).toBe('active');
      expect(onHost(w, 'systemctl show -p ExecStart kha-node-proxy')).toContain('/usr/sbin/nginx');
      expect(onHost(w, 'pgrep -x haproxy || echo none').trim()).toBe('none');
      expect(unit(w, 'is-active', 'nginx')).not.toBe('active');
      expect(unit(w, 'is-enabled', 'nginx')).toBe('disabled');
      expect(throughProxy(w)).toBe('ok');
      expect(health(w)).toBe('200');
    }
    expect(timed(['apply', '--yes']).stdout).toContain('No changes');
  });

  it("verify-failover node-master-crash with nginx: what its passive checks cost is reported, not judged, and the drill says so", () => {
    const d = nodeDrill('node-master-crash');
    expect(d.caveat).toContain('nginx (node_proxy.software) checks nothing by itself');
    expect(d.expectations[0]!.name).toBe("what nginx's passive checks cost w1, reported");
    expect(drillRules(W.w1)).toBe('0');
  });

  it('before kubeadm init: the proxy running and accepting is the gate, said plainly, no warning', async () => {
    await labDown(process.env, () => undefined);
    hostsYaml = (await labUp({ lbs: 2, masters: 3, workers: 2 }, process.env, () => undefined, { beforeKubeadm: true })).hostsYaml;
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('w1: the proxy runs and accepts on 127.0.0.1:6443; no apiserver answers yet, as before kubeadm init');
    expect(r.stdout).toContain('node proxies: 2/2 done, 0 failed');
    expect(r.stderr).not.toContain('warning');
    expect(health(W.w1)).toBe('503');
  }, 300_000);
});
