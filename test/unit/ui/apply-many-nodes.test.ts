import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ApplyListener, RolloutReport } from '../../../src/execute/events.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { packageRoot } from '../../../src/paths.js';
import type { HostPlan } from '../../../src/plan/plan.js';
import { applyRenderer } from '../../../src/ui/apply-view.js';

// Fifty nodes must not bury the endpoint's lines: past ten proxy hosts the
// plan folds the nodes with nothing to change into one line, and the summary
// gives counts and the nodes that need a look; --json still has every node.

const NODES = Array.from({ length: 12 }, (_, i) => `w${i + 1}`);

function inventory(): Inventory {
  const text = readFileSync(join(packageRoot, 'examples', 'node-proxy.yaml'), 'utf8').replace(
    /^nodes:\n(?: {2}- .*\n)+/m,
    `nodes:\n${NODES.map((n, i) => `  - { name: ${n}, address: 10.77.1.${31 + i} }\n`).join('')}`,
  );
  const r = parseInventory(text, 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

const inv = inventory();
const plans: HostPlan[] = [
  { host: 'lb1', tasks: [{ task: 'packages', changes: [] }] },
  { host: 'lb2', tasks: [{ task: 'packages', changes: [] }] },
  ...NODES.map((host) => ({ host, tasks: [{ task: 'node-proxy-packages', changes: [] }] })),
];
const rollout: RolloutReport = {
  stage: 'node proxies',
  maxFail: 0,
  hosts: NODES.map((host, i) => (i === 0 ? { host, outcome: 'failed', error: 'install haproxy: E: no such package' } : { host, outcome: i < 3 ? 'unchanged' : 'not started' })),
};

async function render(view: 'plain' | 'json', diffs = false) {
  let stdout = '';
  const listener: ApplyListener = applyRenderer(view, inv, { stdout: (t) => (stdout += t), stderr: () => undefined });
  await listener({ kind: 'plan-ready', plans, diffs });
  await listener({ kind: 'finished', outcome: { kind: 'applied', plans, changed: new Map(), endpoint: undefined, rollouts: [rollout], ok: false } });
  return stdout;
}

describe('apply over many nodes', () => {
  it('the plan folds the nodes with nothing to change into one line', async () => {
    const out = await render('plain');
    expect(out).toContain('lb1 (primary, priority 150, 10.77.0.11)');
    expect(out).not.toContain('w1 (node');
    expect(out).toContain(`12 nodes with nothing to change: ${NODES.join(', ')}`);
  });

  it('the summary: a line per load balancer, counts for the nodes, the failed one with why, those not started', async () => {
    const out = await render('plain');
    expect(out).toContain('lb1: 0 changed, 1 ok');
    expect(out).not.toMatch(/^w2: /m);
    expect(out).toContain('node proxies: 2/12 done, 1 failed, 9 waiting');
    expect(out).toContain('  w1 failed: install haproxy: E: no such package');
    expect(out).toContain(`  not started (more than --max-fail 0 failed, or stopped): ${NODES.slice(3).join(', ')}`);
  });

  it('--json has every node with its outcome', async () => {
    const out = JSON.parse(await render('json')) as { rollouts: { hosts: { host: string; outcome: string }[] }[] };
    expect(out.rollouts[0]!.hosts).toHaveLength(12);
    expect(out.rollouts[0]).toMatchObject({ total: 12, done: 2, failed: 1, not_started: NODES.slice(3) });
  });
});
