import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ApplyEvent, ApplyListener } from '../../../src/execute/events.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { packageRoot } from '../../../src/paths.js';
import type { HostPlan } from '../../../src/plan/plan.js';
import { applyRenderer, applyView } from '../../../src/ui/apply-view.js';
import type { EndpointCheck } from '../../../src/verify/endpoint.js';

// apply's renderers: the same events in, the lines people and CI logs read
// (and the lab tests match) or the one --json object out.

function inventory(): Inventory {
  const file = join(packageRoot, 'examples', 'hosts.yaml');
  const r = parseInventory(readFileSync(file, 'utf8'), 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

const inv = inventory();

const plans: HostPlan[] = [
  {
    host: 'lb1',
    tasks: [
      { task: 'packages', changes: [{ kind: 'package.install', manager: 'apt', packages: ['keepalived', 'haproxy'] }] },
      { task: 'sysctl', changes: [] },
      { task: 'services', changes: [{ kind: 'service.start', service: 'haproxy', marker: { path: '/var/lib/kha/haproxy.loaded', digest: 'd' } }] },
    ],
  },
  { host: 'lb2', tasks: [{ task: 'packages', changes: [] }, { task: 'sysctl', changes: [] }] },
];

const cluster: EndpointCheck = {
  holder: 'lb1',
  masters: [
    { name: 'm1', up: true, found: 'UP', seenBefore: true },
    { name: 'm2', up: true, found: 'UP', seenBefore: true },
  ],
  listening: true,
  requests: { requests: 24, succeeded: 24, failures: [], perMaster: { m1: 12, m2: 12 }, holding: { m1: 0, m2: 0 } },
  firstBuild: false,
  problems: [],
  warnings: [],
};

async function render(view: 'plain' | 'json', events: readonly ApplyEvent[]) {
  let stdout = '';
  let stderr = '';
  const listener: ApplyListener = applyRenderer(view, inv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  for (const e of events) await listener(e);
  return { stdout, stderr };
}

const STAMP = /^\d\d:\d\d:\d\d\.\d{3} /gm;

describe('the plain renderer (CI=1, a pipe)', () => {
  it('a run: the warning, the plan, stamped stages, the summary with the endpoint', async () => {
    const { stdout, stderr } = await render('plain', [
      { kind: 'preflight-warning', host: 'lb2', check: 'vrrp-path', message: 'lb1 → lb2: firewalld on lb2 does not let VRRP from lb1 in yet' },
      { kind: 'plan-ready', plans, diffs: false },
      { kind: 'stage-started', title: 'prepare' },
      { kind: 'progress', text: 'lb1: install keepalived, haproxy (apt)' },
      { kind: 'stage-finished', title: 'prepare' },
      { kind: 'stage-started', title: 'converge the backups' },
      { kind: 'stage-finished', title: 'converge the backups' },
      { kind: 'finished', outcome: { kind: 'applied', plans, changed: new Map([['lb1', 2]]), endpoint: cluster, ok: true } },
    ]);
    expect(stderr).toBe('warning: lb2 [vrrp-path]: lb1 → lb2: firewalld on lb2 does not let VRRP from lb1 in yet\n');
    expect(stdout.match(STAMP)).toHaveLength(3);
    expect(stdout.replace(STAMP, 'T ')).toBe(
      [
        'lb1 (primary, priority 150, 10.77.0.11)',
        '  packages  ~ install keepalived, haproxy (apt)',
        '  sysctl    ok',
        '  services  ~ start haproxy',
        '',
        'lb2 (backup, priority 140, 10.77.0.12)',
        '  packages  ok',
        '  sysctl    ok',
        '',
        'Plan: 2 changes on 1 host(s).',
        'T == prepare',
        'T    lb1: install keepalived, haproxy (apt)',
        'T == converge the backups',
        '',
        'lb1: 2 changed, 1 ok',
        'lb2: 0 changed, 2 ok',
        'VIP 10.77.0.10:6443 (held by lb1) answers: 24/24 requests, every master reached (m1 12, m2 12)',
        '',
      ].join('\n'),
    );
  });

  it("a master that leastconn passed over for the connections it holds already: reached, and said why it took none of the check's", async () => {
    const held: EndpointCheck = { ...cluster, requests: { requests: 24, succeeded: 24, failures: [], perMaster: { m1: 0, m2: 24 }, holding: { m1: 3, m2: 0 } } };
    const { stdout } = await render('plain', [{ kind: 'finished', outcome: { kind: 'applied', plans, changed: new Map(), endpoint: held, ok: true } }]);
    expect(stdout).toContain('answers: 24/24 requests, every master reached (m1 0, m2 24); m1 holds 3 held already, which leastconn weighs');
  });

  it('a problem of the endpoint: its warnings and errors on stderr', async () => {
    const down = { ...cluster, problems: ["m3's apiserver at 10.77.0.23:6443 answered through this endpoint before and now: connection refused"], warnings: ['m4 has not answered yet'] };
    const { stderr } = await render('plain', [{ kind: 'finished', outcome: { kind: 'applied', plans, changed: new Map(), endpoint: down, ok: false } }]);
    expect(stderr).toBe(
      "warning: m4 has not answered yet\nerror: m3's apiserver at 10.77.0.23:6443 answered through this endpoint before and now: connection refused\n",
    );
  });

  it('a first build: the endpoint is up, its warnings are its expected state', async () => {
    const { requests: _none, ...noRequests } = cluster;
    const first: EndpointCheck = {
      ...noRequests,
      masters: [{ name: 'm1', up: false, found: 'connection refused', seenBefore: false }],
      firstBuild: true,
      warnings: ['m1 has not answered yet'],
    };
    const { stdout, stderr } = await render('plain', [{ kind: 'finished', outcome: { kind: 'applied', plans, changed: new Map(), endpoint: first, ok: true } }]);
    expect(stdout).toContain('The endpoint is up: the VIP 10.77.0.10:6443 is held by lb1 and haproxy listens on it. No apiserver answers yet');
    expect(stdout).toContain('  m1: connection refused\n');
    expect(stderr).toBe('');
  });

  it('nothing to change says so', async () => {
    const none: HostPlan[] = [{ host: 'lb1', tasks: [{ task: 'packages', changes: [] }] }];
    const { stdout } = await render('plain', [
      { kind: 'plan-ready', plans: none, diffs: false },
      { kind: 'finished', outcome: { kind: 'applied', plans: none, changed: new Map(), endpoint: undefined, ok: true } },
    ]);
    expect(stdout).toBe('lb1 (primary, priority 150, 10.77.0.11)\n  packages  ok\n\nNo changes: every host is as hosts.yaml describes.\n\nlb1: 0 changed, 1 ok\n');
  });

  it('a stop: what was put back, and where it stopped, on stderr', async () => {
    const { stdout, stderr } = await render('plain', [
      { kind: 'put-back', host: 'lb2', paths: ['/etc/haproxy/haproxy.cfg'] },
      { kind: 'put-back-failed', host: 'lb1', reason: 'connection lost' },
      { kind: 'finished', outcome: { kind: 'interrupted', host: 'lb2', after: 'update /etc/haproxy/haproxy.cfg' } },
    ]);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      [
        'lb2: put back /etc/haproxy/haproxy.cfg (written in this run, not loaded yet)',
        'lb1: could not put back files written in this run: connection lost',
        'interrupted on lb2 after: update /etc/haproxy/haproxy.cfg. Every service runs the files on disk; run kha apply again to finish.',
        '',
      ].join('\n'),
    );
  });

  it('a plan that changed while applying is said in the summary, with why', async () => {
    const { stdout } = await render('plain', [
      { kind: 'plan-changed', host: 'lb1', added: ['reload haproxy (its configuration changed)'], dropped: ['enable haproxy at boot', 'start haproxy'] },
      { kind: 'finished', outcome: { kind: 'applied', plans, changed: new Map([['lb1', 2]]), endpoint: undefined, ok: true } },
    ]);
    expect(stdout).toBe(
      '\nlb1: 2 changed, 1 ok\nlb2: 0 changed, 2 ok\n' +
        'the plan changed while applying: lb1 did: reload haproxy (its configuration changed); instead of: enable haproxy at boot; start haproxy' +
        ' (each stage plans again from the host as it is then, and it was not as at the start)\n',
    );
  });

  it('declining changes nothing and says so', async () => {
    expect((await render('plain', [{ kind: 'finished', outcome: { kind: 'declined' } }])).stdout).toBe('Nothing changed.\n');
  });
});

describe('the JSON renderer (--json)', () => {
  it('a dry run: one object with every change, the warnings collected into it', async () => {
    const { stdout, stderr } = await render('json', [
      { kind: 'preflight-warning', host: 'lb2', check: 'vrrp-path', message: 'not yet' },
      { kind: 'plan-ready', plans, diffs: true },
      { kind: 'finished', outcome: { kind: 'dry-run', plans } },
    ]);
    expect(stderr).toBe('');
    expect(stdout).toBe(
      `${JSON.stringify(
        {
          ok: true,
          dry_run: true,
          changes: 2,
          hosts: [
            {
              host: 'lb1',
              changed: 2,
              ok: 1,
              changes: [
                { task: 'packages', change: 'install keepalived, haproxy (apt)' },
                { task: 'services', change: 'start haproxy' },
              ],
            },
            { host: 'lb2', changed: 0, ok: 2, changes: [] },
          ],
          warnings: ['lb2 [vrrp-path]: not yet'],
        },
        null,
        2,
      )}\n`,
    );
  });

  it('a run: no progress, the hosts and the endpoint; a changed plan only when there is one', async () => {
    const stages: ApplyEvent[] = [
      { kind: 'stage-started', title: 'prepare' },
      { kind: 'progress', text: 'lb1: install' },
      { kind: 'stage-finished', title: 'prepare' },
    ];
    const outcome: ApplyEvent = { kind: 'finished', outcome: { kind: 'applied', plans, changed: new Map([['lb1', 2]]), endpoint: cluster, ok: true } };
    const plain = JSON.parse((await render('json', [...stages, outcome])).stdout);
    expect(plain).toEqual({ ok: true, dry_run: false, hosts: [{ host: 'lb1', changed: 2, ok: 1 }, { host: 'lb2', changed: 0, ok: 2 }], endpoint: cluster });
    const changed = JSON.parse((await render('json', [...stages, { kind: 'plan-changed', host: 'lb1', added: ['a'], dropped: [] }, outcome])).stdout);
    expect(changed.plan_changed).toEqual([{ host: 'lb1', added: ['a'], dropped: [] }]);
  });

  it('a stop: one object on stdout that says so, the put-back and the stop on stderr as for people', async () => {
    const { stdout, stderr } = await render('json', [
      { kind: 'put-back', host: 'lb2', paths: ['/etc/haproxy/haproxy.cfg'] },
      { kind: 'finished', outcome: { kind: 'interrupted', host: 'lb2', after: undefined } },
    ]);
    expect(JSON.parse(stdout)).toEqual({ ok: false, interrupted: true, host: 'lb2', after: null });
    expect(stderr).toBe(
      'lb2: put back /etc/haproxy/haproxy.cfg (written in this run, not loaded yet)\n' +
        'interrupted on lb2. Every service runs the files on disk; run kha apply again to finish.\n',
    );
  });
});

describe('which renderer', () => {
  it('--json, a terminal, else plain lines (CI set, or no terminal)', () => {
    expect(applyView(true, {}, { isTTY: true })).toBe('json');
    expect(applyView(false, {}, { isTTY: true })).toBe('tty');
    expect(applyView(false, { CI: '1' }, { isTTY: true })).toBe('plain');
    expect(applyView(false, {}, {})).toBe('plain');
  });
});
