import { describe, expect, it } from 'vitest';
import { checkSize } from '../../src/lab/lifecycle.js';
import { hostsYaml } from '../../src/lab/hostsfile.js';
import { bridgePort, CONTROLLER_ADDRESS, DEFAULT_VIP, LAST_HOST, LIMITS, labFiles, machineNetns, planMachines, SUBNET_PREFIX } from '../../src/lab/state.js';
import { parseInventory } from '../../src/inventory/load.js';
import { topologyOf } from '../../src/topology/of.js';

// The lab's address plan at its largest: every machine on the /24, none on
// the controller, the VIP or the address setup proposes, and names short
// enough for a network interface (15 characters).
describe('the lab layout at its limits', () => {
  const machines = planMachines(LIMITS);

  it('holds at least fifty workers (issue 14 point 6)', () => {
    expect(machines.filter((m) => m.role === 'worker')).toHaveLength(LIMITS.workers);
    expect(LIMITS.workers).toBeGreaterThanOrEqual(50);
  });

  it('gives each machine its own address on the subnet, clear of the controller, the VIP and .254', () => {
    const addresses = machines.map((m) => m.address);
    expect(new Set(addresses).size).toBe(addresses.length);
    for (const a of addresses) {
      expect(a.startsWith(`${SUBNET_PREFIX}.`)).toBe(true);
      const last = Number(a.split('.')[3]);
      expect(last).toBeGreaterThan(2);
      expect(last).toBeLessThanOrEqual(LAST_HOST);
    }
    expect(addresses).not.toContain(CONTROLLER_ADDRESS);
    expect(addresses).not.toContain(DEFAULT_VIP);
    expect(addresses).not.toContain(`${SUBNET_PREFIX}.254`);
  });

  it('keeps the roles in their decades: lbs .11.., masters .21.., workers .31..', () => {
    const roles = new Map(machines.map((m) => [Number(m.address.split('.')[3]), m.role]));
    for (const [last, role] of roles) expect(role).toBe(last <= 20 ? 'lb' : last <= 30 ? 'master' : 'worker');
  });

  it('names every bridge port and namespace within an interface name', () => {
    for (const m of machines) {
      expect(bridgePort(m.name).length).toBeLessThanOrEqual(15);
      expect(machineNetns(m.name)).toMatch(/^kha-lab-/);
    }
  });

  it('accepts the limits and refuses one worker more', () => {
    expect(() => checkSize(LIMITS)).not.toThrow();
    expect(() => checkSize({ ...LIMITS, workers: LIMITS.workers + 1 })).toThrow(`--workers must be 0..${LIMITS.workers}`);
  });
});

// --lbs 0 with workers: the lab of source 001, no VIP, the workers' local proxy the only endpoint.
describe('the lab without load balancers', () => {
  const files = labFiles({ lab: '/var/lib/kha/lab', cache: '/c' });

  it('writes a hosts.yaml with no VIP, no lb and no keepalived section, which kha loads as the proxy-only kind', () => {
    const text = hostsYaml(files, planMachines({ lbs: 0, masters: 2, workers: 2 }), DEFAULT_VIP);
    expect(text).not.toMatch(/^(cluster|lb|keepalived):/m);
    const r = parseInventory(text, 'hosts.yaml', {});
    if (!r.ok) throw new Error(r.problems.map((p) => p.message).join('\n'));
    expect(r.inventory.vip).toBeUndefined();
    expect(topologyOf(r.inventory).name).toBe('proxy-only');
    expect(r.inventory.nodes.map((n) => n.name)).toEqual(['w1', 'w2']);
  });

  it('refuses --lbs 0 without workers (nothing to build), but not on the masters', () => {
    expect(() => checkSize({ lbs: 0, masters: 3, workers: 0 })).toThrow('--lbs 0 without --workers');
    expect(() => checkSize({ lbs: 0, masters: 3, workers: 0 }, true)).not.toThrow();
  });
});
