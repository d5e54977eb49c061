import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backupPath } from '../../../src/execute/apply-change.js';
import type { HostFacts } from '../../../src/facts/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { NODE_PROXY_POD_RECORD, NODE_PROXY_UNIT } from '../../../src/node-proxy/files.js';
import { NODE_PROXY_SERVICE, NODE_PROXY_TASKS } from '../../../src/node-proxy/tasks.js';
import { podProcess, podProcessLines } from '../../../src/observe/pod-processes.js';
import { packageRoot } from '../../../src/paths.js';
import { describeChange } from '../../../src/plan/changes.js';
import { renderNodeProxy } from '../../../src/render/render.js';
import { planRoles, probeFor } from '../../../src/role/roles.js';
import { podSchemaProblems } from '../../../src/topology/static-pods/manifests.js';
import { proxyHosts } from '../../../src/topology/roles.js';
import { debianNode } from './host.js';

// The local proxy as a static pod (node_proxy.static_pod), planned from
// facts: what a node gets, what a switch either way does first so that one
// proxy runs, and that a converged node plans nothing.

const TASKS = [...NODE_PROXY_TASKS.keys()];
const MANIFEST = '/etc/kubernetes/manifests/kha-node-proxy.yaml';

function inventory(nodeProxy = 'node_proxy:\n  static_pod: {}\n'): Inventory {
  const text = readFileSync(join(packageRoot, 'examples', 'node-proxy.yaml'), 'utf8').replace(/\nnode_proxy:\n[\s\S]*$/, `\n${nodeProxy}`);
  const r = parseInventory(text, 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}
const asService = () => inventory('node_proxy:\n  software: haproxy\n');

/** A node with nothing of the proxy, or with exactly the files `like` renders (and what runs them). */
function facts(inv: Inventory, like?: Inventory): HostFacts {
  const req = probeFor(inv, 'w1');
  const rendered = like ? renderNodeProxy(like, proxyHosts(like).find((h) => h.name === 'w1')!) : [];
  const service = like !== undefined && !like.nodeProxy?.staticPod;
  return {
    ...debianNode('w1'),
    packages: { keepalived: null, haproxy: service ? '2.6.12-1' : null },
    packageVersions: Object.fromEntries((req.packages ?? []).map((p) => [p, p === 'haproxy' && service ? '2.6.12-1' : null])),
    files: req.files.map((path) => {
      const r = rendered.find((f) => f.path === path);
      return r ? { path, exists: true, mode: r.mode, owner: 'root', group: 'root', content: r.content } : { path, exists: false, mode: null, owner: null, group: null, content: null };
    }),
    directories: req.directories.map((path) => ({ path, exists: like !== undefined })),
    services: req.services.map((s) => ({
      name: s,
      present: service && s === NODE_PROXY_SERVICE,
      active: service && s === NODE_PROXY_SERVICE ? 'active' : 'inactive',
      enabled: service && s === NODE_PROXY_SERVICE ? 'enabled' : 'disabled',
      mainPid: 0,
      startedAtMonotonicUs: 0,
    })),
  };
}

const plan = (inv: Inventory, f: HostFacts) => planRoles(inv, 'w1', f, TASKS).tasks.flatMap((t) => t.changes);
const words = (inv: Inventory, f: HostFacts) => plan(inv, f).map(describeChange);

describe('node_proxy.static_pod', () => {
  it('haproxy takes the image static_pods uses by default, and kubeadm\'s manifests directory', () => {
    expect(inventory().nodeProxy?.staticPod).toEqual({ image: 'docker.io/library/haproxy:2.8', manifestsDir: '/etc/kubernetes/manifests' });
  });

  it('a fresh node: no package, no unit; the configuration checked in the image, the record, then the manifest', () => {
    const inv = inventory();
    const changes = plan(inv, facts(inv));
    expect(changes.map(describeChange)).toEqual([
      'create directory /etc/kha/node-proxy (root:root 755)',
      'create directory /var/lib/kha (root:root 755)',
      'create /etc/kha/node-proxy/haproxy.cfg (0644)',
      `create ${NODE_PROXY_POD_RECORD} (0644)`,
      `create ${MANIFEST} (0600)`,
    ]);
    const config = changes.find((c) => c.kind === 'file.write' && c.path.endsWith('haproxy.cfg'));
    expect(config?.kind === 'file.write' && config.validate).toContain('img=docker.io/library/haproxy:2.8\n');
    const manifest = changes.find((c) => c.kind === 'file.write' && c.path === MANIFEST);
    expect(manifest?.kind === 'file.write' && manifest.hiddenBackup).toBe(true);
  });

  it('the manifest is a valid Pod on the host network, its probes on the proxy\'s own page, the configuration mounted read-only', () => {
    const inv = inventory();
    const text = renderNodeProxy(inv, proxyHosts(inv)[0]!).find((f) => f.path === MANIFEST)!.content;
    expect(podSchemaProblems(text)).toEqual([]);
    expect(text).toContain('hostNetwork: true');
    // Liveness never asks the health page, which fails while every apiserver is down.
    expect(text).toMatch(/livenessProbe:\n\s+httpGet:\n\s+host: 127.0.0.1\n\s+port: 8405\n\s+path: \/kha-stats/);
    expect(text).toMatch(/readinessProbe:\n\s+httpGet:\n\s+host: 127.0.0.1\n\s+port: 8405\n\s+path: \/kha-health/);
    expect(text).toMatch(/mountPath: \/etc\/kha\/node-proxy\n\s+readOnly: true/);
  });

  it('converged: nothing to do', () => {
    const inv = inventory();
    expect(words(inv, facts(inv, inv))).toEqual([]);
  });

  it('a new configuration writes a new manifest: its hash changes, so the kubelet restarts the pod', () => {
    const inv = inventory();
    const later = inventory('node_proxy:\n  check_inter_ms: 3000\n  static_pod: {}\n');
    expect(words(later, facts(later, inv))).toEqual(['update /etc/kha/node-proxy/haproxy.cfg', `update ${MANIFEST}`]);
  });

  it('from the service: stopped, disabled and its unit moved aside before the manifest is written', () => {
    const inv = inventory();
    expect(words(inv, facts(inv, asService()))).toEqual([
      'update /etc/kha/node-proxy/haproxy.cfg',
      'stop and disable kha-node-proxy (the proxy runs as a static pod (node_proxy.static_pod))',
      `remove ${NODE_PROXY_UNIT} (the proxy runs as a static pod (node_proxy.static_pod))`,
      'systemctl daemon-reload',
      `create ${NODE_PROXY_POD_RECORD} (0644)`,
      `create ${MANIFEST} (0600)`,
    ]);
  });

  it('to the service: the pod removed and seen stopped, whichever software it ran, before the service starts', () => {
    const inv = asService();
    const changes = plan(inv, facts(inv, inventory()));
    expect(changes.map(describeChange)).toEqual([
      'install haproxy (apt)',
      'stop and disable haproxy (started by its package; kha runs kha-node-proxy instead)',
      'update /etc/kha/node-proxy/haproxy.cfg',
      `create ${NODE_PROXY_UNIT} (0644)`,
      'systemctl daemon-reload',
      `remove ${MANIFEST} and wait until the kubelet has stopped kha-node-proxy (the proxy runs as a service (no node_proxy.static_pod))`,
      `remove ${NODE_PROXY_POD_RECORD} (no static pod of the proxy is left)`,
      'enable kha-node-proxy at boot',
      'start kha-node-proxy',
    ]);
    const removal = changes.find((c) => c.kind === 'pod.remove');
    expect(removal?.kind === 'pod.remove' && removal.pods.map((p) => `${p.comm} ${p.names} not ${p.exceptUnit}`)).toEqual([
      'haproxy /etc/kha/node-proxy/haproxy.cfg not kha-node-proxy.service',
      'nginx /etc/kha/node-proxy/nginx.conf not kha-node-proxy.service',
    ]);
  });

  it('another manifests_dir: the manifest kha wrote before is removed, the new one written', () => {
    const before = inventory();
    const inv = inventory('node_proxy:\n  static_pod: { manifests_dir: /etc/kubelet.d }\n');
    expect(words(inv, facts(inv, before))).toEqual([
      `remove ${MANIFEST} and wait until the kubelet has stopped kha-node-proxy (node_proxy.static_pod.manifests_dir names another directory)`,
      `update ${NODE_PROXY_POD_RECORD}`,
      'create /etc/kubelet.d/kha-node-proxy.yaml (0600)',
    ]);
  });

  it("a manifest's backup is a dotfile, which the kubelet does not read; other files keep theirs beside them", () => {
    expect(backupPath(MANIFEST, true)).toBe('/etc/kubernetes/manifests/.kha-node-proxy.yaml.kha-bak');
    expect(backupPath(NODE_PROXY_UNIT)).toBe('/etc/systemd/system/kha-node-proxy.service.kha-bak');
  });

  it('reads when a pod started against its manifest', () => {
    const lines = podProcessLines('kubelet yes\nhaproxy running 1000.50 1000.25\nnginx absent 0 1000.25\n');
    expect(podProcess(lines, 'haproxy')).toEqual({ running: true, current: true, startedAfterS: 0.25 });
    expect(podProcess(lines, 'nginx')).toEqual({ running: false, current: false });
  });
});
