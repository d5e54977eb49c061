import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiserverPortCut, backendCuts, defaultLimits, DRILLS, masterSilenceCut, partitionCommands, type Drill, type DrillContext, type DrillName } from '../../../src/drill/drills.js';
import { summarize } from '../../../src/drill/timeline.js';
import { armCommand, armSeconds, exercise, parseSweep, sweep, SWEEP_COMMAND, type Exercised, type ExerciseIo } from '../../../src/drill/exercise.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { packageRoot } from '../../../src/paths.js';
import { TransportError } from '../../../src/transport/errors.js';
import { FakeSession, type ScriptStep } from '../../../src/transport/fake.js';
import type { ExecOptions, PutOptions, Session } from '../../../src/transport/session.js';

function inventory(): Inventory {
  const r = parseInventory(readFileSync(join(packageRoot, 'examples', 'hosts.yaml'), 'utf8'), 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

/**
 * A scripted session that writes when each command starts (`>`) and ends
 * (`<`) into a log shared by every host, so a test sees the order across
 * hosts; `slow` makes a command take a while to land.
 */
class Logged implements Session {
  constructor(
    readonly fake: FakeSession,
    private readonly log: string[],
    private readonly slow: { command: string; ms: number } | undefined = undefined,
  ) {}

  get host(): string {
    return this.fake.host;
  }

  async exec(command: string, opts?: ExecOptions) {
    this.log.push(`${this.host} > ${command}`);
    try {
      if (this.slow?.command === command) await new Promise((r) => setTimeout(r, this.slow?.ms));
      return await this.fake.exec(command, opts);
    } finally {
      this.log.push(`${this.host} < ${command}`);
    }
  }

  put(path: string, content: string | Buffer, opts: PutOptions) {
    return this.fake.put(path, content, opts);
  }

  get(path: string) {
    return this.fake.get(path);
  }

  close() {
    return this.fake.close();
  }
}

/** The node the drills from a node measure through; examples/hosts.yaml has none, and nothing here reads its proxy. */
const W1 = { name: 'w1', address: '10.77.1.31', ssh: inventory().lbs[0]!.ssh, kind: 'node' as const };

const ARM = /^systemd-run --quiet --unit=kha-drill-/;
const DISARM = /^systemctl stop kha-drill-[a-z-]+-[0-9a-f]{6}\.timer 2>\/dev\/null; ! systemctl is-active --quiet kha-drill-/;

interface Run {
  ctx: DrillContext;
  io: ExerciseIo;
  log: string[];
  alarms: string[];
  progress: string[];
  fakes: FakeSession[];
}

/**
 * lb1 holds the VIP, m3 is the master taken away. The hold ends as soon as
 * the fault is marked, as when the operator stops kha mid-drill: the heals
 * follow at once.
 */
function setup(scripts: Record<string, ScriptStep[]>, slow?: { host: string; command: string; ms: number }): Run {
  const inv = inventory();
  const log: string[] = [];
  const fakes = Object.entries(scripts).map(([host, script]) => new FakeSession(host, script));
  const sessions = new Map(fakes.map((f) => [f.host, new Logged(f, log, slow?.host === f.host ? slow : undefined)] as const));
  const stop = new AbortController();
  const alarms: string[] = [];
  const progress: string[] = [];
  const ctx: DrillContext = {
    inv,
    sessions,
    holder: inv.lbs[0]!,
    master: inv.masters[2]!,
    node: W1,
    partitionSeconds: 6,
    limits: defaultLimits(inv),
    mark: (what) => {
      if (what === 'fault') stop.abort();
    },
    now: () => performance.now(),
    onTimeline: () => undefined,
    progress: (t) => progress.push(t),
    extra: {},
    reconnect: () => Promise.reject(new Error('no reconnect in this test')),
    serviceStates: () => Promise.reject(new Error('not here')),
  };
  const io: ExerciseIo = { stop: stop.signal, progress: (t) => progress.push(t), alarm: (t) => alarms.push(t) };
  return { ctx, io, log, alarms, progress, fakes };
}

function drill(name: DrillName): Drill {
  return DRILLS.find((d) => d.name === name)!;
}

async function run(name: DrillName, r: Run): Promise<Exercised> {
  const result = await exercise(drill(name), r.ctx, r.io);
  for (const f of r.fakes) f.assertDone();
  return result;
}

/** The unit a host's arm command named. */
function unitOf(fake: FakeSession): string {
  return /--unit=(kha-drill-[a-z-]+-[0-9a-f]{6}) /.exec(fake.commands()[0] ?? '')?.[1] ?? 'none';
}

const STATS = 'HTTP/1.0 200 OK\r\n\r\n# pxname,svname,status,stot,check_status,last_chk\nkube_apiserver,m3,DOWN,0,L4CON,\n';

describe('a drill restores every host, whatever ends it', () => {
  it('arms every fault on its host before any fault is injected, and disarms only after the heal was checked', async () => {
    const inv = inventory();
    const [backend1, backend2] = backendCuts(inv, inv.masters[2]!);
    const [side1, side2] = partitionCommands(inv, inv.lbs[0]!);
    const heal = (unit: 'keepalived' | 'haproxy'): ScriptStep[] => [{ command: `systemctl start ${unit}` }, { command: `systemctl is-active --quiet ${unit}` }, { command: DISARM }];
    const cut = (c: { cut: string; heal: string; healed: string }): ScriptStep[] => [{ command: ARM }, { command: c.cut }, { command: c.heal }, { command: c.healed }, { command: DISARM }];
    const scripts: Record<Exclude<DrillName, 'reboot'>, Record<string, ScriptStep[]>> = {
      'keepalived-stop': { lb1: [{ command: ARM }, { command: 'systemctl stop keepalived' }, ...heal('keepalived')], lb2: [] },
      'keepalived-kill': { lb1: [{ command: ARM }, { command: 'systemctl kill --signal=SIGKILL keepalived' }, ...heal('keepalived')], lb2: [] },
      'haproxy-down': { lb1: [{ command: ARM }, { command: 'systemctl stop haproxy' }, ...heal('haproxy')], lb2: [] },
      'backend-down': {
        lb1: [{ command: ARM }, { command: backend1!.cut }, { command: /dev\/tcp\/127\.0\.0\.1/, result: { stdout: STATS } }, { command: backend1!.heal }, { command: backend1!.healed }, { command: DISARM }],
        lb2: cut(backend2!),
      },
      partition: { lb1: cut(side1!), lb2: cut(side2!) },
      failback: {
        lb1: [{ command: ARM }, { command: 'systemctl stop keepalived' }, { command: 'systemctl start keepalived' }, ...heal('keepalived')],
        lb2: [{ command: /^ip -o -4 addr show/ }],
      },
      'node-apiserver-stop': { m3: cut(apiserverPortCut(inv.masters[2]!)), w1: [] },
      'node-master-crash': { w1: cut(masterSilenceCut(W1, inv.masters[2]!)), m3: [] },
    };
    for (const [name, script] of Object.entries(scripts) as [Exclude<DrillName, 'reboot'>, Record<string, ScriptStep[]>][]) {
      const r = setup(script);
      const result = await run(name, r);
      expect(result.failure, name).toBeUndefined();
      expect(result.restored, name).toEqual([expect.objectContaining({ name: 'every host restored', held: true })]);
      const firstFault = r.log.findIndex((l) => l.includes(' > ') && !ARM.test(l.split(' > ')[1]!));
      const lastArmed = r.log.findLastIndex((l) => l.includes(' < ') && ARM.test(l.split(' < ')[1]!));
      expect(lastArmed, `${name}: ${r.log.join('\n')}`).toBeGreaterThanOrEqual(0);
      expect(lastArmed, `${name}: ${r.log.join('\n')}`).toBeLessThan(firstFault);
      // Each host's timer runs exactly the heal kha runs, after the hold, the inject's waits and the margin.
      for (const fault of drill(name).faults(r.ctx)) {
        const fake = r.fakes.find((f) => f.host === fault.host)!;
        expect(fake.commands()[0], name).toBe(armCommand(unitOf(fake), armSeconds(drill(name), r.ctx), fault.heal));
      }
    }
    expect(armSeconds(drill('keepalived-stop'), setup({}).ctx)).toBe(14);
    expect(armSeconds(drill('failback'), setup({}).ctx)).toBe(25);
    expect(drill('reboot').faults(setup({}).ctx)).toEqual([]);
  });

  it('heals only once every fault command has settled, also the one still landing when another failed', async () => {
    const inv = inventory();
    const [side1, side2] = partitionCommands(inv, inv.lbs[0]!);
    const r = setup(
      {
        lb1: [{ command: ARM }, { command: side1!.cut, result: { code: 2, stderr: 'RTNETLINK answers: File exists' } }, { command: side1!.heal }, { command: side1!.healed }, { command: DISARM }],
        lb2: [{ command: ARM }, { command: side2!.cut }, { command: side2!.heal }, { command: side2!.healed }, { command: DISARM }],
      },
      { host: 'lb2', command: side2!.cut, ms: 200 },
    );
    const result = await run('partition', r);
    expect(String(result.failure)).toContain('RTNETLINK answers: File exists');
    const landed = r.log.indexOf(`lb2 < ${side2!.cut}`);
    const failed = r.log.indexOf(`lb1 < ${side1!.cut}`);
    expect(failed).toBeLessThan(landed);
    for (const host of ['lb1', 'lb2']) {
      const healing = r.log.findIndex((l) => l.startsWith(`${host} > `) && l.endsWith(host === 'lb1' ? side1!.heal : side2!.heal));
      expect(healing, r.log.join('\n')).toBeGreaterThan(landed);
    }
    // Both healed and checked: both timers removed, the drill's failure reported apart.
    expect(result.restored).toEqual([expect.objectContaining({ name: 'every host restored', held: true })]);
    expect(r.alarms).toEqual([]);
    expect(r.progress).toEqual(['  armed on lb1, lb2: the fault undoes itself after 16 s should kha stop']);
  });

  it('a heal that fails leaves that host its timer and is reported loudly, with when the timer fires', async () => {
    const r = setup({
      lb1: [
        { command: ARM },
        { command: 'systemctl stop keepalived' },
        { command: 'systemctl start keepalived', result: { code: 1, stderr: 'Job for keepalived.service failed because the control process exited with error code.\n' } },
      ],
      lb2: [],
    });
    const result = await run('keepalived-stop', r);
    const unit = unitOf(r.fakes[0]!);
    expect(r.fakes[0]!.commands().some((c) => c.includes(`systemctl stop ${unit}`))).toBe(false);
    expect(result.notRestored).toEqual(['lb1']);
    expect(result.restored).toEqual([
      {
        name: 'lb1 restored',
        held: false,
        detail: expect.stringMatching(
          new RegExp(`^\`systemctl start keepalived\` failed \\(exit 1\\): Job for keepalived.service failed .*; its own timer \\(${unit}\\) undoes the fault at about \\d\\d:\\d\\d:\\d\\d, in 1[34] s$`),
        ),
      },
    ]);
    expect(r.alarms).toEqual([`lb1 NOT RESTORED: ${result.restored[0]!.detail}`]);
  });

  it('a host still broken after its heal keeps its timer', async () => {
    const r = setup({
      lb1: [{ command: ARM }, { command: 'systemctl stop haproxy' }, { command: 'systemctl start haproxy' }, { command: 'systemctl is-active --quiet haproxy', result: { code: 3 } }],
      lb2: [],
    });
    const result = await run('haproxy-down', r);
    expect(result.restored[0]).toMatchObject({ name: 'lb1 restored', held: false, detail: expect.stringContaining('not whole after the heal: haproxy active does not hold; its own timer') });
    expect(r.alarms).toHaveLength(1);
  });

  it('a host whose connection dropped during the hold is left to its timer, and said so; the others are healed', async () => {
    const inv = inventory();
    const [side1, side2] = partitionCommands(inv, inv.lbs[0]!);
    const r = setup({
      lb1: [{ command: ARM }, { command: side1!.cut }, { command: side1!.heal }, { command: side1!.healed }, { command: DISARM }],
      lb2: [{ command: ARM }, { command: side2!.cut }, { command: side2!.heal, error: new TransportError('lb2', 'exec', 'the connection was lost') }],
    });
    const result = await run('partition', r);
    expect(result.notRestored).toEqual(['lb2']);
    expect(result.restored).toEqual([
      { name: 'lb2 restored', held: false, detail: expect.stringMatching(/^could not reach it to heal it \(the connection was lost\); its own timer \(kha-drill-partition-[0-9a-f]{6}\) undoes the fault at about/) },
    ]);
    expect(r.alarms[0]).toMatch(/^lb2 NOT RESTORED: could not reach it/);
  });

  it('breaks nothing when a host refuses its self-restore, and disarms the hosts that accepted it', async () => {
    const inv = inventory();
    const [backend1] = backendCuts(inv, inv.masters[2]!);
    const r = setup({
      lb1: [{ command: ARM }, { command: DISARM }],
      lb2: [{ command: ARM, result: { code: 1, stderr: 'Failed to start transient timer unit: Unit kha-drill-backend-down.timer already exists.' } }],
    });
    const result = await run('backend-down', r);
    expect(String(result.failure)).toContain('the self-restore could not be armed, so nothing was broken: lb2:');
    expect(r.log.some((l) => l.includes(backend1!.cut))).toBe(false);
    expect(result.restored).toEqual([]);
  });
});

describe('the sweep before the first drill', () => {
  it('runs the restores a killed run left armed and names the ones that failed', async () => {
    const fake = new FakeSession('lb1', [{ command: SWEEP_COMMAND, result: { stdout: 'ran kha-drill-partition-0a1b2c\nfailed kha-drill-haproxy-down-99ffee.service\n' } }]);
    expect(await sweep(fake)).toEqual({ ran: ['kha-drill-partition-0a1b2c'], failed: ['kha-drill-haproxy-down-99ffee.service'] });
    expect(parseSweep('')).toEqual({ ran: [], failed: [] });
  });

  it('fails loudly when systemd cannot be asked', async () => {
    const fake = new FakeSession('lb1', [{ command: SWEEP_COMMAND, result: { code: 1, stderr: 'System has not been booted with systemd' } }]);
    await expect(sweep(fake)).rejects.toThrow('lb1: clearing the restores of earlier drills failed (exit 1): System has not been booted with systemd');
  });
});

describe('three hosts: whichever backup times out first keeps the VIP', () => {
  function colocated(): Inventory {
    const r = parseInventory(readFileSync(join(packageRoot, 'examples', 'colocated.yaml'), 'utf8'), 'colocated.yaml', {});
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.inventory;
  }

  function movedTo(to: string): { name: string; held: boolean } {
    const inv = colocated();
    const ctx = { ...setup({}).ctx, inv, holder: inv.lbs[1]!, master: inv.masters[0]!, limits: defaultLimits(inv) };
    const vip = [
      { t: 0, host: inv.lbs[1]!.name, holders: [inv.lbs[1]!.name] },
      { t: 600, host: to, holders: [to] },
    ];
    const s = summarize({ samples: [], defaultClient: [], vip, states: [], streams: [], marks: [{ t: 10, what: 'fault', text: 'cut' }] }, 1000);
    return drill('partition').expectations(ctx, s)[0]!;
  }

  it('the lower-priority peer taking over is a move, not a failure; the holder itself never is', () => {
    const inv = colocated();
    const [first, holder, third] = inv.lbs.map((lb) => lb.name);
    expect(movedTo(third!)).toEqual(expect.objectContaining({ name: `VIP moved to ${first} or ${third}`, held: true }));
    expect(movedTo(first!).held).toBe(true);
    expect(movedTo(holder!).held).toBe(false);
  });
});

describe('planned moves judge the held streams by their stall', () => {
  function judged(streams: Parameters<typeof summarize>[0]['streams']) {
    const r = setup({});
    const vip = [
      { t: 0, host: 'lb1', holders: ['lb1'] },
      { t: 1200, host: 'lb2', holders: ['lb2'] },
    ];
    const s = summarize({ samples: [], defaultClient: [], vip, states: [], streams, marks: [{ t: 1000, what: 'fault', text: 'stop' }] }, 8000);
    return drill('keepalived-stop').expectations(r.ctx, s).find((e) => e.name.startsWith('held connections'));
  }
  const every100 = (from: number, to: number) => Array.from({ length: Math.floor((to - from) / 100) + 1 }, (_, i) => from + i * 100);

  it('a stream that went on through the old holder and moved later with a short stall holds; one stuck to the end does not', () => {
    // Served from lo until the reset 1 s after the move, then 0.1 s to the new holder.
    const late = { name: 'plain', kind: 'plain' as const, connections: [{ openedAt: 0, events: every100(100, 2200), ended: { t: 2210, how: 'rst' as const } }, { openedAt: 2260, events: every100(2300, 7900) }] };
    expect(judged([late])).toMatchObject({ held: true, detail: 'longest stall 0.10 s' });
    const stuck = { name: 'plain', kind: 'plain' as const, connections: [{ openedAt: 0, events: every100(100, 1100) }] };
    expect(judged([stuck])).toMatchObject({ held: false, detail: 'plain: still stuck at the end' });
    const slow = { name: 'client-go', kind: 'client-go' as const, connections: [{ openedAt: 0, events: every100(100, 1100), ended: { t: 1150, how: 'fin' as const } }, { openedAt: 1200, events: every100(2300, 7900) }] };
    expect(judged([slow])).toMatchObject({ held: false, detail: 'client-go: resumed 1.10 s after' });
    // Cut before the move (haproxy dead): the wait for the takeover is every client's, not late; counted from the move.
    const cut = { name: 'plain', kind: 'plain' as const, connections: [{ openedAt: 0, events: every100(100, 1000), ended: { t: 1040, how: 'fin' as const } }, { openedAt: 1100, events: every100(2150, 7900) }] };
    expect(judged([cut])).toMatchObject({ held: true });
  });

  it("kubectl is judged on when it learned: it resumes as a new process, whose start is the instrument's", () => {
    // A reset 0.1 s after the move, then 1.3 s to start kubectl again and its first event.
    const restarted = { name: 'kubectl', kind: 'kubectl' as const, connections: [{ openedAt: 0, events: every100(100, 1100), ended: { t: 1300, how: 'rst' as const } }, { openedAt: 1350, events: every100(2600, 7900) }] };
    expect(judged([restarted])).toMatchObject({ held: true, detail: 'longest stall 1.50 s' });
    // Told only 1.1 s after the move: late, whatever its restart cost.
    const told = { ...restarted, connections: [{ openedAt: 0, events: every100(100, 1100), ended: { t: 2310, how: 'fin' as const } }, { openedAt: 2360, events: every100(2500, 7900) }] };
    expect(judged([told])).toMatchObject({ held: false, detail: 'kubectl: learned 1.11 s after' });
    // Never ended, still silent: stuck, as any stream.
    const stuck = { ...restarted, connections: [{ openedAt: 0, events: every100(100, 1100) }] };
    expect(judged([stuck])).toMatchObject({ held: false, detail: 'kubectl: still stuck at the end' });
    // The same client's resumption is judged for the drill's own kinds, which reconnect in their process.
    expect(judged([{ ...restarted, name: 'client-go', kind: 'client-go' as const }])).toMatchObject({ held: false, detail: 'client-go: resumed 1.40 s after' });
  });

  it('no streams measured (a real apiserver): nothing judged', () => {
    expect(judged([])).toBeUndefined();
  });
});
