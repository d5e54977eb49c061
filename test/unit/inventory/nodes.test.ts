import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { hostRoles, proxyHosts, rolesOf } from '../../../src/topology/roles.js';

// hosts.yaml's nodes and node_proxy as the typed inventory carries them
// (docs/node-proxy.md). Each refusal has its exact words in the bad corpus
// (test/unit/inventory/bad/*node*); here, what a valid file becomes.

const BASE = `cluster:
  vip: 10.77.0.10/24
ssh: { user: deploy, sudo: true }
lb:
  - { name: lb1, address: 10.77.0.11 }
  - { name: lb2, address: 10.77.0.12 }
masters:
  - { name: m1, address: 10.77.0.21 }
  - { name: m2, address: 10.77.0.22, apiserver_port: 6444 }
`;

function load(text: string): Inventory {
  const r = parseInventory(text, 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems, null, 2));
  return r.inventory;
}

describe('nodes and node_proxy in the inventory', () => {
  it('no nodes, no node_proxy: no proxy anywhere, and nothing said about it', () => {
    const inv = load(BASE);
    expect(inv.nodes).toEqual([]);
    expect(inv.nodeProxy).toBeUndefined();
    expect(proxyHosts(inv)).toEqual([]);
    expect(inv.notes).toEqual([]);
  });

  it('nodes alone take the defaults: haproxy on 127.0.0.1:6443, health on 8405, not on the masters, kubelets left alone', () => {
    const inv = load(`${BASE}nodes:\n  - { name: w1, address: 10.77.1.1 }\n  - { name: w2, address: 10.77.1.2, ssh: { user: ops, port: 2222 } }\n`);
    expect(inv.nodeProxy).toEqual({ port: 6443, software: 'haproxy', healthPort: 8405, masters: false, kubelet: false });
    expect(inv.nodes.map((n) => [n.name, n.address, n.ssh.user, n.ssh.port, n.ssh.sudo])).toEqual([
      ['w1', '10.77.1.1', 'deploy', 22, true],
      ['w2', '10.77.1.2', 'ops', 2222, true],
    ]);
    expect(proxyHosts(inv).map((h) => `${h.kind} ${h.name}`)).toEqual(['node w1', 'node w2']);
    expect(inv.notes).toEqual([expect.stringContaining('kha apply installs and runs the local proxy on these hosts')]);
  });

  it('node_proxy.masters: the masters first, then the nodes; a port apart from every apiserver_port', () => {
    const inv = load(`${BASE}nodes:\n  - { name: w1, address: 10.77.1.1 }\nnode_proxy: { masters: true, port: 7443, software: nginx }\n`);
    expect(proxyHosts(inv).map((h) => `${h.kind} ${h.name}`)).toEqual(['master m1', 'master m2', 'node w1']);
    expect(hostRoles(inv, 'm2')).toEqual({ master: inv.masters[1], proxy: expect.objectContaining({ name: 'm2', kind: 'master' }) });
    // status does not show the proxy yet, so its words do not name it.
    expect(rolesOf(inv, 'm2')).toEqual(['apiserver :6444']);
  });

  it('node_proxy.masters with no nodes at all: the masters alone get the proxy', () => {
    const inv = load(`${BASE}node_proxy: { masters: true, port: 7443 }\n`);
    expect(inv.nodes).toEqual([]);
    expect(proxyHosts(inv).map((h) => h.name)).toEqual(['m1', 'm2']);
  });

  it('a node that is also a load balancer, on ports of its own: both roles on one host', () => {
    const inv = load(`${BASE}nodes:\n  - { name: lb2, address: 10.77.0.12 }\nnode_proxy: { port: 7443 }\n`);
    expect(hostRoles(inv, 'lb2')).toEqual({ lb: inv.lbs[1], proxy: expect.objectContaining({ name: 'lb2', kind: 'node' }) });
  });

  it('a node that is also a load balancer, behind haproxy.bind: vip: 6443 on 127.0.0.1 is free', () => {
    const inv = load(`${BASE}haproxy: { bind: vip }\nnodes:\n  - { name: lb2, address: 10.77.0.12 }\n`);
    expect(inv.nodeProxy?.port).toBe(6443);
  });
});
