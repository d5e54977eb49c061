import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import type { ServerStats } from '../../../src/observe/haproxy-stats.js';
import { packageRoot } from '../../../src/paths.js';
import { seenAfter } from '../../../src/verify/apiservers-seen.js';
import { judgeMasters, reached } from '../../../src/verify/endpoint.js';

// The end of apply before, during and after kubeadm: which masters not
// answering are a cluster still being built, and which are an outage.

function inventory(): Inventory {
  const r = parseInventory(readFileSync(join(packageRoot, 'examples', 'hosts.yaml'), 'utf8'), 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

const row = (server: string, status: string, checkStatus: string, checkCode = '', checkDescription = ''): ServerStats => ({
  backend: 'kube_apiserver',
  server,
  status,
  totalSessions: 0,
  currentSessions: 0,
  checkStatus,
  checkCode,
  checkDescription,
});

const refused = (m: string) => row(m, 'DOWN', 'L4CON', '', 'Connection refused');
const up = (m: string) => row(m, 'UP', 'L7OK', '200', 'OK');

describe('judging the masters', () => {
  const inv = inventory();

  it('before kubeadm init: nobody answers and nobody ever did, a first build, exit 0 with the reason per master', () => {
    const j = judgeMasters(inv, [refused('m1'), refused('m2'), row('m3', 'DOWN', 'L4TOUT', '', 'Layer4 timeout')], new Set());
    expect(j.firstBuild).toBe(true);
    expect(j.problems).toEqual([]);
    expect(j.warnings).toEqual([
      "m1's apiserver at 10.77.0.21:6443 has not answered yet: connection refused (expected until kubeadm init runs there)",
      "m2's apiserver at 10.77.0.22:6443 has not answered yet: connection refused (expected until kubeadm joins it)",
      "m3's apiserver at 10.77.0.23:6443 has not answered yet: no answer: the connection timed out (a firewall dropping the port, or the host down) (expected until kubeadm joins it)",
    ]);
  });

  it('after init, before the joins: the first master up, the others warned about, not failed', () => {
    const j = judgeMasters(inv, [up('m1'), refused('m2'), row('m3', 'DOWN', 'L7STS', '500')], new Set(['m1 10.77.0.21:6443']));
    expect(j.firstBuild).toBe(false);
    expect(j.problems).toEqual([]);
    expect(j.warnings).toHaveLength(2);
    expect(j.warnings[1]).toContain('answers /readyz with HTTP 500: not ready');
  });

  it('a master that answered before and no longer does is a problem, never a warning', () => {
    const seen = new Set(['m1 10.77.0.21:6443', 'm2 10.77.0.22:6443', 'm3 10.77.0.23:6443']);
    const j = judgeMasters(inv, [up('m1'), refused('m2'), up('m3')], seen);
    expect(j.problems).toEqual(["m2's apiserver at 10.77.0.22:6443 answered through this endpoint before and now: connection refused"]);
    expect(j.warnings).toEqual([]);
  });

  it('a cluster whose every master is down, though they answered before, is no first build', () => {
    const seen = new Set(['m1 10.77.0.21:6443']);
    const j = judgeMasters(inv, [refused('m1'), refused('m2'), refused('m3')], seen);
    expect(j.firstBuild).toBe(false);
    expect(j.problems).toHaveLength(1);
  });

  it('a master moved to another address is a new master', () => {
    const j = judgeMasters(inv, [up('m1'), refused('m2'), up('m3')], new Set(['m2 10.77.0.99:6443']));
    expect(j.problems).toEqual([]);
  });
});

describe('the record of masters seen', () => {
  const inv = inventory();
  it('grows with the masters up now, keeps those seen before, and forgets masters hosts.yaml no longer lists', () => {
    expect(seenAfter(inv, new Set(), [])).toBe('');
    expect(seenAfter(inv, new Set(), ['m1'])).toBe('m1 10.77.0.21:6443\n');
    expect(seenAfter(inv, new Set(['m1 10.77.0.21:6443', 'old 10.77.0.99:6443']), ['m3'])).toBe('m1 10.77.0.21:6443\nm3 10.77.0.23:6443\n');
  });
});

// With leastconn, a master whose kubelets' watches already hold connections
// gets none of the check's short requests while the others have fewer: the
// lab's masters' kubelets showed it (apply exited 1 on a healthy cluster).
describe('a master reached through the VIP', () => {
  const check = (perMaster: Record<string, number>, holding: Record<string, number>) => ({ requests: 12, succeeded: 12, failures: [], perMaster, holding });

  it('took some of the requests, or holds connections through the VIP already; neither is a problem', () => {
    expect(reached(check({ m1: 0, m2: 6 }, { m1: 2, m2: 0 }), 'm1')).toBe(true);
    expect(reached(check({ m1: 6, m2: 6 }, { m1: 0, m2: 0 }), 'm1')).toBe(true);
    expect(reached(check({ m1: 0, m2: 12 }, { m1: 0, m2: 0 }), 'm1')).toBe(false);
  });
});
