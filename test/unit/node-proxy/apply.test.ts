import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rolloutLimits } from '../../../src/commands/apply-run.js';
import type { ApplyEvent } from '../../../src/execute/events.js';
import { runChecks } from '../../../src/execute/apply.js';
import { carryOut } from '../../../src/execute/pipeline.js';
import { DEFAULT_ROLLOUT, executionStages, maxFailures, type RolloutLimits, type RunState } from '../../../src/execute/runner.js';
import { applyTargets } from '../../../src/execute/targets.js';
import type { HostFacts } from '../../../src/facts/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { hostsYaml } from '../../../src/lab/hostsfile.js';
import { labFiles, planMachines } from '../../../src/lab/state.js';
import { parseListeners } from '../../../src/facts/parse-state.js';
import { proxyAnswers } from '../../../src/node-proxy/gate.js';
import { proxyPortsFree } from '../../../src/node-proxy/preflight.js';
import { NODE_PROXY_SERVICE, NODE_PROXY_TASKS } from '../../../src/node-proxy/tasks.js';
import { FakeSession } from '../../../src/transport/fake.js';
import { packageRoot } from '../../../src/paths.js';
import { describeChange } from '../../../src/plan/changes.js';
import { planRoles, probeFor, rolesFor } from '../../../src/role/roles.js';
import { loadPlaybook, type Playbook } from '../../../src/playbook/load.js';
import { renderNodeProxy } from '../../../src/render/render.js';
import { configDigest, markerPath } from '../../../src/tasks/services.js';
import { topologyOf } from '../../../src/topology/of.js';
import { proxyHosts } from '../../../src/topology/roles.js';
import { rolloutLines } from '../../../src/ui/apply-lines.js';

// apply on a proxy host (issue 14 point 2): what it plans from facts, and the
// flags of the rollout (point 4).

const TASKS = [...NODE_PROXY_TASKS.keys()];

function inventory(patch: (text: string) => string = (t) => t): Inventory {
  const r = parseInventory(patch(readFileSync(join(packageRoot, 'examples', 'node-proxy.yaml'), 'utf8')), 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

/** A fresh Debian 12 node: nothing of the proxy's installed. */
function fresh(inv: Inventory, name = 'w1', family: 'debian' | 'rhel' = 'debian'): HostFacts {
  const req = probeFor(inv, name);
  return {
    host: name,
    os: { family, id: family === 'debian' ? 'debian' : 'rocky', versionId: family === 'debian' ? '12' : '9', prettyName: '' },
    uid: 0,
    systemd: true,
    packageManager: family === 'debian' ? 'apt' : 'dnf',
    selinux: { mode: 'absent', booleans: {} },
    firewall: { backend: 'none', active: false },
    interfaces: [],
    routeToVip: 'eth0',
    packages: { keepalived: null, haproxy: null },
    packageVersions: Object.fromEntries((req.packages ?? []).map((p) => [p, null])),
    files: req.files.map((path) => ({ path, exists: false, mode: null, owner: null, group: null, content: null })),
    directories: req.directories.map((path) => ({ path, exists: false })),
    services: req.services.map((s) => ({ name: s, present: false, active: 'inactive', enabled: 'disabled', mainPid: 0, startedAtMonotonicUs: 0 })),
    sysctls: {},
    apiserversReachable: [],
  };
}

/** The node after apply: the package in, the files and marker written, the proxy running. */
function converged(inv: Inventory, name = 'w1'): HostFacts {
  const f = fresh(inv, name);
  const host = proxyHosts(inv).find((h) => h.name === name)!;
  const files = renderNodeProxy(inv, host);
  f.packageVersions = { ...f.packageVersions, haproxy: '2.6.12-1', nginx: '1.22.1-9', 'libnginx-mod-stream': '1.22.1-9' };
  f.directories = f.directories.map((d) => ({ ...d, exists: true }));
  f.services = f.services.map((s) => (s.name === NODE_PROXY_SERVICE ? { ...s, present: true, active: 'active', enabled: 'enabled' } : { ...s, enabled: 'disabled' }));
  f.files = f.files.map((file) => {
    const r = files.find((x) => x.path === file.path);
    if (r) return { ...file, exists: true, mode: r.mode, content: r.content };
    if (file.path === markerPath(NODE_PROXY_SERVICE)) return { ...file, exists: true, mode: 0o600, content: configDigest(files, NODE_PROXY_SERVICE) };
    return file;
  });
  return f;
}

const plan = (inv: Inventory, f: HostFacts, name = 'w1') => planRoles(inv, name, f, TASKS).tasks.flatMap((t) => t.changes.map(describeChange));

describe('apply on a node: the local proxy', () => {
  it('apply connects to the load balancers and the nodes, once each', () => {
    expect(applyTargets(inventory()).map((t) => t.name)).toEqual(['lb1', 'lb2', 'w1', 'w2', 'w3']);
  });

  it('a fresh Debian node: haproxy in, the service its package started off, the files, the proxy started', () => {
    expect(plan(inventory(), fresh(inventory()))).toEqual([
      'install haproxy (apt)',
      'stop and disable haproxy (started by its package; kha runs kha-node-proxy instead)',
      'create directory /etc/kha/node-proxy (root:root 755)',
      'create directory /var/lib/kha (root:root 755)',
      'create /etc/kha/node-proxy/haproxy.cfg (0644)',
      'create /etc/systemd/system/kha-node-proxy.service (0644)',
      'systemctl daemon-reload',
      'enable kha-node-proxy at boot',
      'start kha-node-proxy',
    ]);
  });

  it('a haproxy the user installed before kha is left alone: nothing to install, nothing disabled', () => {
    const inv = inventory();
    const f = fresh(inv);
    f.packageVersions = { ...f.packageVersions, haproxy: '2.6.12-1' };
    const changes = plan(inv, f);
    expect(changes.some((c) => c.includes('haproxy (apt)') || c.includes('disable haproxy'))).toBe(false);
  });

  it('nginx: the stream module of each family; the distribution nginx off', () => {
    const inv = inventory((t) => t.replace('software: haproxy', 'software: nginx'));
    expect(plan(inv, fresh(inv)).slice(0, 2)).toEqual(['install nginx, libnginx-mod-stream (apt)', 'stop and disable nginx (started by its package; kha runs kha-node-proxy instead)']);
    expect(plan(inv, fresh(inv, 'w1', 'rhel'))[0]).toBe('install nginx, nginx-mod-stream (dnf)');
  });

  it('a converged node: nothing to do (the second run says No changes)', () => {
    const inv = inventory();
    expect(plan(inv, converged(inv))).toEqual([]);
  });

  it('haproxy -> nginx on a running proxy: stopped under its old unit, the new file and unit, then started', () => {
    const haproxy = inventory();
    const nginx = inventory((t) => t.replace('software: haproxy', 'software: nginx'));
    expect(plan(nginx, converged(haproxy))).toEqual([
      'stop kha-node-proxy (its unit changes what it runs; it starts again on the new one below)',
      'create /etc/kha/node-proxy/nginx.conf (0644)',
      'update /etc/systemd/system/kha-node-proxy.service',
      'systemctl daemon-reload',
      'start kha-node-proxy',
    ]);
  });

  it('a load balancer plans no proxy task, a node no load balancer task', () => {
    const inv = inventory();
    expect(planRoles(inv, 'w1', fresh(inv), ['packages', 'files', ...TASKS]).tasks.map((t) => t.task)).toEqual(TASKS);
  });

  it("every playbook names the proxy's stage, after the endpoint's check", () => {
    const inv = inventory();
    const stages = loadPlaybook(topologyOf(inv)).stages;
    expect(stages.at(-2)).toMatchObject({ on: 'proxy-hosts', parallel: 'from-flag', then: 'proxy-answers' });
    expect(stages.findIndex((s) => s.on === 'operator')).toBe(stages.length - 3);
  });
});

describe('--parallel and --max-fail', () => {
  it('defaults: 10 at a time, the first failure stops the rollout', () => {
    expect(rolloutLimits({})).toEqual({ parallel: 10, maxFail: { count: 0 } });
  });

  it('a count or a percentage of the hosts, rounded down', () => {
    expect(maxFailures(rolloutLimits({ maxFail: '3' }), 50)).toBe(3);
    expect(maxFailures(rolloutLimits({ maxFail: '10%' }), 50)).toBe(5);
    expect(maxFailures(rolloutLimits({ maxFail: '10%' }), 9)).toBe(0);
  });

  it.each([['0'], ['-1'], ['1.5'], ['ten'], ['']])('--parallel %j is refused (exit 2)', (v) => {
    expect(() => rolloutLimits({ parallel: v })).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('at least 1') }));
  });

  it.each([['-1'], ['101%'], ['many']])('--max-fail %j is refused (exit 2)', (v) => {
    expect(() => rolloutLimits({ maxFail: v })).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});

describe('kha lab up --workers N', () => {
  it('writes the workers under nodes:, with the proxy section; 0 workers write neither', () => {
    const files = labFiles({ lab: '/var/lib/kha/lab', cache: '/c' });
    const two = hostsYaml(files, planMachines({ lbs: 2, masters: 3, workers: 2 }), '10.77.0.10');
    const r = parseInventory(two, 'hosts.yaml', {});
    expect(r.ok && r.inventory.nodes.map((n) => n.name)).toEqual(['w1', 'w2']);
    expect(r.ok && r.inventory.nodeProxy?.software).toBe('haproxy');
    const none = hostsYaml(files, planMachines({ lbs: 2, masters: 3, workers: 0 }), '10.77.0.10');
    expect(none).not.toContain('nodes:');
    expect(none).not.toContain('node_proxy:');
  });
});

describe('the gate after each node (proxy-answers)', () => {
  const inv = inventory();
  const health = /kha-health/;
  const listening = /dev\/tcp\/127\.0\.0\.1\/6443/;

  it('health 200: passes, and says an apiserver is up behind it', async () => {
    const lines: string[] = [];
    await proxyAnswers(new FakeSession('w1', [{ command: health, result: { stdout: '200\n' } }]), inv, true, (l) => lines.push(l));
    expect(lines).toEqual(['w1: the proxy answers on 127.0.0.1:6443 (health 200: an apiserver is up behind it)']);
  });

  it('before kubeadm (no apiserver up anywhere): 503 and the port accepting is the gate, said plainly', async () => {
    const lines: string[] = [];
    const session = new FakeSession('w1', [{ command: health, result: { stdout: '503\n' } }, { command: listening }]);
    await proxyAnswers(session, inv, false, (l) => lines.push(l));
    expect(lines).toEqual(['w1: the proxy runs and accepts on 127.0.0.1:6443; no apiserver answers yet, as before kubeadm init (it sends to each as its checks pass)']);
  });

  it('before kubeadm, the port not accepting: the node fails', async () => {
    const session = new FakeSession('w1', [{ command: health, result: { stdout: '503\n' } }, { command: listening, result: { code: 1 } }]);
    await expect(proxyAnswers(session, inv, false, () => undefined)).rejects.toThrow('kha-node-proxy answers its health page but not on 127.0.0.1:6443');
  });
});

describe('the rollout over the proxy hosts (--parallel, --max-fail)', () => {
  const inv = inventory();
  const stage: Playbook = {
    name: 'test',
    stages: [{ name: 'node proxies', tasks: TASKS, on: 'proxy-hosts', parallel: 'from-flag', then: 'proxy-answers' }],
  };

  /** w1 fresh, whose package install fails; w2 and w3 converged (nothing to run). */
  async function roll(rollout: RolloutLimits) {
    const facts = new Map([
      ['w1', fresh(inv, 'w1')],
      ['w2', converged(inv, 'w2')],
      ['w3', converged(inv, 'w3')],
    ]);
    const sessions = new Map([
      ['w1', new FakeSession('w1', [{ command: /apt-get install/, result: { code: 100, stderr: 'E: Unable to locate package haproxy' } }])],
      ['w2', new FakeSession('w2')],
      ['w3', new FakeSession('w3')],
    ]);
    const plans = [...facts].map(([name, f]) => planRoles(inv, name, f, TASKS));
    const events: ApplyEvent[] = [];
    const outcome = await carryOut(
      { scope: new Set(facts.keys()), rollout, listenForStop: () => () => undefined, emit: (e) => void events.push(e) },
      { inv, sessions, facts, playbook: stage, plans },
    );
    return { outcome, events };
  }

  it('--parallel 1 --max-fail 0: the first failure stops it; the rest are listed as not started; exit 1', async () => {
    const { outcome, events } = await roll({ parallel: 1, maxFail: { count: 0 } });
    expect(outcome).toMatchObject({ kind: 'applied', ok: false });
    const report = outcome.kind === 'applied' ? outcome.rollouts![0]! : undefined;
    expect(report?.hosts.map((h) => `${h.host} ${h.outcome}`)).toEqual(['w1 failed', 'w2 not started', 'w3 not started']);
    expect(report?.hosts[0]!.error).toContain('Unable to locate package haproxy');
    expect(events.filter((e) => e.kind === 'rollout-progress').at(-1)).toMatchObject({ counts: { total: 3, done: 0, failed: 1, running: 0, waiting: 2 } });
    expect(rolloutLines(report!)).toEqual([
      'node proxies: 0/3 done, 1 failed, 2 waiting',
      expect.stringMatching(/^ {2}w1 failed: .*Unable to locate package haproxy/s),
      '  not started (more than --max-fail 0 failed, or stopped): w2, w3; run kha apply again once the failure is fixed',
    ]);
  });

  it('--max-fail 1: one failure is tolerated and the others go on', async () => {
    const { outcome } = await roll({ parallel: 1, maxFail: { count: 1 } });
    const report = outcome.kind === 'applied' ? outcome.rollouts![0]! : undefined;
    expect(report?.hosts.map((h) => `${h.host} ${h.outcome}`)).toEqual(['w1 failed', 'w2 unchanged', 'w3 unchanged']);
    expect(outcome).toMatchObject({ ok: false });
  });
});

describe('a host that is a load balancer and gets the proxy', () => {
  it("haproxy, installed by the load balancer's packages task earlier in the run, is not installed again nor disabled", () => {
    const inv = inventory();
    const earlier = [{ kind: 'package.install' as const, manager: 'apt' as const, packages: ['keepalived', 'haproxy'] }];
    const changes = planRoles(inv, 'w1', fresh(inv), TASKS, earlier).tasks.flatMap((t) => t.changes.map(describeChange));
    expect(changes.filter((c) => c.includes('haproxy (apt)') || c.includes('disable haproxy'))).toEqual([]);
  });
});

describe('preflight on the nodes', () => {
  it('privileges and os are checked on every host apply changes, nodes included', async () => {
    const inv = inventory();
    const w3 = { ...fresh(inv, 'w3'), uid: 1000, os: { family: 'debian' as const, id: 'debian', versionId: '10', prettyName: 'Debian GNU/Linux 10 (buster)' } };
    const found = await runChecks(inv, new Map([['w3', w3]]), new Map(), ['privileges', 'os']);
    expect(found.map((p) => `${p.host} [${p.check}]: ${p.message}`)).toEqual([
      'w3 [privileges]: commands run as uid 1000, not root: log in as root or set ssh.sudo: true for ops',
      'w3 [os]: Debian GNU/Linux 10 (buster) is not supported; kha supports Debian 11+, Ubuntu 20.04+, RHEL/CentOS 7+, Rocky and AlmaLinux 8+',
    ]);
  });
});

describe("preflight: the proxy's ports on 127.0.0.1", () => {
  const inv = inventory();
  const withListeners = (listeners: HostFacts['listeners']) => new Map([['w1', { ...fresh(inv, 'w1'), listeners }]]);

  it('parses what ss reported, the unit from the cgroup', () => {
    expect(parseListeners(['listen 127.0.0.1:6443 kha-node-proxy.service -', 'listen *:8405 - -', 'listen 127.0.0.1:8405 - own'])).toEqual([
      { address: '127.0.0.1:6443', unit: 'kha-node-proxy.service', own: false },
      { address: '*:8405', unit: null, own: false },
      { address: '127.0.0.1:8405', unit: null, own: true },
    ]);
    expect(parseListeners(['unavailable'])).toBeNull();
  });

  it('free, or held by kha-node-proxy itself, or on another address: fine', async () => {
    const facts = withListeners({
      6443: [{ address: '127.0.0.1:6443', unit: 'kha-node-proxy.service', own: true }, { address: '10.77.1.31:6443', unit: 'other.service', own: false }],
      // The proxy as a static pod: no unit of its own, its command line names the proxy's configuration.
      8405: [{ address: '127.0.0.1:8405', unit: null, own: true }],
    });
    expect(await proxyPortsFree.run({ inv, facts, sessions: new Map() })).toEqual([]);
  });

  it('taken by another service (or a wildcard listener): a problem naming it and the key to change', async () => {
    const facts = withListeners({ 6443: [{ address: '0.0.0.0:6443', unit: 'haproxy.service', own: false }], 8405: [{ address: '[::]:8405', unit: null, own: false }] });
    expect((await proxyPortsFree.run({ inv, facts, sessions: new Map() })).map((p) => p.message)).toEqual([
      '127.0.0.1:6443 (node_proxy.port) is taken by haproxy.service (0.0.0.0:6443): stop it, or choose another node_proxy.port',
      '127.0.0.1:8405 (node_proxy.health_port) is taken by a process kha cannot name ([::]:8405): stop it, or choose another node_proxy.health_port',
    ]);
  });

  it('no ss on the host: a warning, not a pass', async () => {
    const found = await proxyPortsFree.run({ inv, facts: withListeners({ 6443: null, 8405: null }), sessions: new Map() });
    expect(found.every((p) => p.warning === true)).toBe(true);
  });
});

describe("the proxies' stage in a cluster without nodes", () => {
  it('is not run, nor shown: apply on load balancers alone reads as before', () => {
    const withNodes = inventory();
    const r = parseInventory(readFileSync(join(packageRoot, 'examples', 'hosts.yaml'), 'utf8'), 'hosts.yaml', {});
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const titles = (inv: Inventory) =>
      executionStages({ inv, roles: rolesFor(inv), rollout: DEFAULT_ROLLOUT } as RunState, loadPlaybook(topologyOf(inv)), false).map((s) => s.title);
    expect(titles(withNodes)).toContain('node proxies');
    expect(titles(r.inventory)).not.toContain('node proxies');
  });
});

describe('preflight os under static pods', () => {
  it('asks for a supported distribution where the proxy is installed, not on the masters, whose pods bring their own', async () => {
    const text = readFileSync(join(packageRoot, 'examples', 'static-pods.yaml'), 'utf8') + 'nodes:\n  - { name: w1, address: 10.77.0.31 }\n';
    const r = parseInventory(text, 'static-pods.yaml', {});
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const inv = r.inventory;
    expect(loadPlaybook(topologyOf(inv)).stages[0]!.checks).toContain('os');
    const flatcar = (name: string): HostFacts => ({ ...fresh(inv, name), os: { family: 'debian', id: 'flatcar', versionId: '3975', prettyName: 'Flatcar Container Linux' } });
    const facts = new Map([['cp1', flatcar('cp1')], ['w1', flatcar('w1')]]);
    const found = await runChecks(inv, facts, new Map(), ['os']);
    expect(found.map((p) => `${p.host}: ${p.message}`)).toEqual([
      'w1: Flatcar Container Linux is not supported; kha supports Debian 11+, Ubuntu 20.04+, RHEL/CentOS 7+, Rocky and AlmaLinux 8+',
    ]);
  });
});
