import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { packageRoot } from '../../../src/paths.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import { probeFor, roleOfHostSet, rolesFor } from '../../../src/role/roles.js';
import { topologyOf } from '../../../src/topology/of.js';

function inventory(edit: (text: string) => string = (t) => t): Inventory {
  const text = edit(readFileSync(join(packageRoot, 'examples', 'node-proxy.yaml'), 'utf8'));
  const r = parseInventory(text, 'node-proxy.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

/** lb1 is a node too: one host, both roles (its proxy on 7443: haproxy takes cluster.port on every address there). */
const lbAlsoNode = (t: string) => t.replace('nodes:\n', 'nodes:\n  - { name: lb1, address: 10.77.0.11 }\n').replace('  port: 6443 ', '  port: 7443 ');

describe('roles: every stage, task, gate and probe belongs to exactly one', () => {
  it("each playbook's task stages run on a host set one role owns, naming only that role's tasks and gate", () => {
    for (const file of ['node-proxy.yaml', 'static-pods.yaml', 'colocated.yaml']) {
      const r = parseInventory(readFileSync(join(packageRoot, 'examples', file), 'utf8'), file, {});
      if (!r.ok) throw new Error(JSON.stringify(r.problems));
      const roles = rolesFor(r.inventory);
      for (const stage of loadPlaybook(topologyOf(r.inventory)).stages.filter((s) => s.tasks)) {
        const role = roleOfHostSet(roles, stage.on)!;
        expect(role, `${file}: ${stage.name}`).toBeDefined();
        expect(stage.tasks!.every((t) => role.tasks.has(t)), `${file}: ${stage.name}`).toBe(true);
        expect(roles.filter((x) => x.hostSets.has(stage.on))).toHaveLength(1);
      }
    }
  });

  it('a host with two roles is probed for both: the proxy ports it must find free are asked about on a load balancer that is a node', () => {
    const inv = inventory(lbAlsoNode);
    const both = probeFor(inv, 'lb1');
    const lbOnly = probeFor(inv, 'lb2');
    const node = probeFor(inv, 'w1');
    expect(both.ports).toEqual([7443, 8405]);
    expect(both.services).toEqual(expect.arrayContaining([...lbOnly.services, ...node.services]));
    expect(both.files).toEqual(expect.arrayContaining([...lbOnly.files, ...node.files]));
    expect(lbOnly.ports ?? []).toEqual([]);
  });

  it("the proxy's own listeners stay its own on a host whose kubelet is kha's too: the merged probe keeps portsOwner", () => {
    const inv = inventory(lbAlsoNode);
    // w1 has the proxy and the kubelet's settings: two roles, one probe.
    expect(rolesFor(inv).filter((r) => r.hosts(inv).includes('w1'))).toHaveLength(2);
    expect(probeFor(inv, 'w1').portsOwner).toBe('/etc/kha/node-proxy/');
    expect(probeFor(inv, 'lb1').portsOwner).toBe('/etc/kha/node-proxy/');
  });

  it('a host with no role kha converges is not probed', () => {
    expect(() => probeFor(inventory(), 'm1')).toThrow('m1: no role kha converges');
  });

  it("a role no host has drops out: the proxy's hosts are the nodes, the endpoint's the load balancers", () => {
    const inv = inventory(lbAlsoNode);
    expect(rolesFor(inv).map((r) => r.hosts(inv))).toEqual([
      ['lb1', 'lb2'],
      ['lb1', 'w1', 'w2', 'w3'],
      // The kubelet's: every host with the proxy; a dedicated load balancer runs none.
      ['lb1', 'w1', 'w2', 'w3'],
    ]);
  });
});
