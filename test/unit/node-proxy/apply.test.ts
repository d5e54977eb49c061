import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rolloutLimits } from '../../../src/commands/apply-run.js';
import { maxFailures } from '../../../src/execute/runner.js';
import { applyTargets } from '../../../src/execute/targets.js';
import type { HostFacts } from '../../../src/facts/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { hostsYaml } from '../../../src/lab/hostsfile.js';
import { labFiles, planMachines } from '../../../src/lab/state.js';
import { NODE_PROXY_SERVICE, NODE_PROXY_TASKS } from '../../../src/node-proxy/tasks.js';
import { packageRoot } from '../../../src/paths.js';
import { describeChange } from '../../../src/plan/changes.js';
import { planRoles, probeFor } from '../../../src/plan/plan.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import { renderNodeProxy } from '../../../src/render/render.js';
import { configDigest, markerPath } from '../../../src/tasks/services.js';
import { topologyOf } from '../../../src/topology/of.js';
import { proxyHosts } from '../../../src/topology/roles.js';

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
    expect(stages.at(-1)).toMatchObject({ on: 'proxy-hosts', parallel: 'from-flag', then: 'proxy-answers' });
    expect(stages.findIndex((s) => s.on === 'operator')).toBe(stages.length - 2);
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
