import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labUp } from '../../src/lab/lifecycle.js';
import { CONTROLLER_NS, labDirs, labFiles } from '../../src/lab/state.js';
import { packageRoot } from '../../src/paths.js';
import { partitionCommands } from '../../src/drill/drills.js';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/model.js';

function inventoryOf(file: string): Inventory {
  const r = parseInventory(readFileSync(file, 'utf8'), file, process.env);
  if (!r.ok) throw new Error('the lab hosts.yaml is invalid');
  return r.inventory;
}

// verify-failover and status against a freshly applied lab: 2 load
// balancers, 3 masters. The drills break real daemons on real machines.

const KHA = join(packageRoot, 'bin', 'kha.js');
const env = { ...process.env, CI: '1' };
let hostsYaml = '';

function kha(args: string[], file = hostsYaml) {
  const r = spawnSync(process.execPath, [KHA, ...args, file], { env, encoding: 'utf8', timeout: 900_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function onHost(address: string, command: string): string {
  const files = labFiles(labDirs(process.env));
  const r = spawnSync(
    'ip',
    ['netns', 'exec', CONTROLLER_NS, 'ssh', '-i', files.key, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${files.knownHosts}`, `root@${address}`, command],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (r.status !== 0) throw new Error(`${address}: ${command}: ${r.stderr}`);
  return r.stdout;
}

const LB = { lb1: '10.77.0.11', lb2: '10.77.0.12' };

/**
 * The lab's apiserver certificates name only their master (as a kubeadm
 * certificate made before anyone thought of the VIP), so a healthy lab's
 * status has exactly one problem: the missing SAN, with the steps to add it.
 */
function healthyButForTheCertificate(r: { code: number; stdout: string }): void {
  expect(r.code, r.stdout).toBe(1);
  const problems = r.stdout.slice(r.stdout.indexOf('degraded:')).split('\n').filter((l) => l.startsWith('  - '));
  expect(problems, r.stdout).toEqual(['  - the apiserver certificate served through the VIP lacks 10.77.0.10 in its SANs: clients get an x509 error']);
  expect(r.stdout).toContain('apiServer.certSANs: ["10.77.0.10"]');
}

function servicesEverywhere(): string {
  return Object.values(LB)
    .map((a) => onHost(a, 'systemctl is-active keepalived haproxy | tr "\\n" " "; ip route show type blackhole | wc -l').trim())
    .join('|');
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the lab tests need root');
  await labDown(process.env, () => undefined);
  hostsYaml = (await labUp({ lbs: 2, masters: 3, workers: 0 }, process.env, () => undefined)).hostsYaml;
  const r = kha(['apply', '--yes']);
  if (r.code !== 0) throw new Error(`apply failed:\n${r.stdout}\n${r.stderr}`);
}, 1_200_000);

afterAll(async () => {
  await labDown(process.env, () => undefined);
}, 300_000);

describe('kha verify-failover on a freshly applied lab', () => {
  it('every drill passes with kha defaults, and the report and JSON carry the timelines', () => {
    const report = join(labDirs(process.env).lab, 'drills.html');
    const r = kha(['verify-failover', '--report', report]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    for (const d of ['keepalived-stop', 'keepalived-kill', 'haproxy-down', 'backend-down', 'partition', 'failback']) expect(r.stdout).toMatch(new RegExp(`${d}\\s+pass`));
    expect(existsSync(report)).toBe(true);
    expect(readFileSync(report, 'utf8')).toContain('<svg');
    expect(r.stdout).toMatch(/a client with default TCP settings: slowest request \d+\.\d+ s/);
    const json = kha(['verify-failover', '--drill', 'keepalived-stop', '--probe-from', 'm1', '--json']);
    const parsed = JSON.parse(json.stdout) as {
      ok: boolean;
      drills: {
        target: string;
        timeline: {
          samples: unknown[];
          defaultClient: unknown[];
          states: { t: number; host: string; state: string }[];
          marks: { t: number; what: string }[];
          remote: { host: string; samples: { t: number }[]; clockUncertaintyMs: number };
        };
      }[];
    };
    expect(parsed.ok, json.stdout).toBe(true);
    const timeline = parsed.drills[0]!.timeline;
    expect(timeline.samples.length).toBeGreaterThan(50);
    expect(timeline.defaultClient.length).toBeGreaterThan(5);
    // The loop on m1, on the operator's clock: it starts within the drill, not hours away.
    expect(timeline.remote.host).toBe('m1');
    expect(timeline.remote.samples.length).toBeGreaterThan(30);
    expect(timeline.remote.samples[0]!.t).toBeGreaterThan(-1000);
    expect(timeline.remote.samples[0]!.t).toBeLessThan(2000);
    expect(timeline.remote.clockUncertaintyMs).toBeLessThan(100);
    // keepalived's own log, on the drill's clock: the other host became MASTER after the fault, the old holder came back as BACKUP.
    const fault = timeline.marks.find((m) => m.what === 'fault')!.t;
    const holder = parsed.drills[0]!.target;
    expect(timeline.states.find((x) => x.host !== holder && x.state === 'MASTER')?.t, JSON.stringify(timeline.states)).toBeGreaterThan(fault);
    expect(timeline.states.some((x) => x.host === holder && x.state === 'BACKUP'), JSON.stringify(timeline.states)).toBe(true);
    expect(servicesEverywhere()).toBe('active active 0|active active 0');
  });

  it('a deliberately slowed configuration fails, naming the expectation', () => {
    const slow = hostsYaml.replace(/\.yaml$/, '-slow.yaml');
    // The kubeadm guide's pace (a check every 3 s, 3 failures), held to kha's 1.5 s requirement.
    writeFileSync(
      slow,
      readFileSync(hostsYaml, 'utf8').replace('  unicast: true', '  unicast: true\n  check_interval: 3\n  check_fall: 3\n  check_timeout: 2') +
        'drills:\n  max_outage:\n    haproxy-down: 1.5\n',
    );
    try {
      const applied = kha(['apply', '--yes'], slow);
      expect(applied.code, `${applied.stdout}\n${applied.stderr}`).toBe(0);
      const r = kha(['verify-failover', '--drill', 'haproxy-down'], slow);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stdout).toMatch(/not met: client outage ≤ 1\.50 s: longest \d+\.\d+ s/);
    } finally {
      const back = kha(['apply', '--yes']);
      expect(back.code, `${back.stdout}\n${back.stderr}`).toBe(0);
    }
  });

  it('a drill interrupted by SIGINT restores every service before exiting', async () => {
    const child = spawn(process.execPath, [KHA, 'verify-failover', '--drill', 'keepalived-stop', hostsYaml], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const code = await new Promise<number>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('keepalived-stop:')) setTimeout(() => child.kill('SIGINT'), 2500);
      });
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (c) => resolve(c ?? -1));
    });
    expect(code, out).toBe(130);
    expect(servicesEverywhere()).toBe('active active 0|active active 0');
  });

  it('status reports split brain while the holder cannot reach its peers, and health once it is back', async () => {
    const before = kha(['status']);
    healthyButForTheCertificate(before);
    const holder = /held by (lb\d)/.exec(before.stdout)![1]! as keyof typeof LB;
    const inv = inventoryOf(hostsYaml);
    const sides = partitionCommands(inv, inv.lbs.find((lb) => lb.name === holder)!);
    for (const p of sides) onHost(LB[p.host as keyof typeof LB], `systemd-run --quiet --unit=kha-test-heal --on-active=60s /bin/sh -c '${p.heal}' && ${p.cut}`);
    try {
      await new Promise((r) => setTimeout(r, 3000));
      const during = kha(['status']);
      expect(during.code).toBe(1);
      expect(during.stdout).toContain('SPLIT BRAIN');
    } finally {
      for (const p of sides) onHost(LB[p.host as keyof typeof LB], `${p.heal}; systemctl stop kha-test-heal.timer`);
    }
    await new Promise((r) => setTimeout(r, 3000));
    healthyButForTheCertificate(kha(['status']));
  });

  it('status says which host it cannot reach while one is isolated from the bridge', async () => {
    const holder = /held by (lb\d)/.exec(kha(['status']).stdout)![1]!;
    expect(spawnSync(process.execPath, [KHA, 'lab', 'fault', 'isolate', holder], { env }).status).toBe(0);
    try {
      const during = kha(['status']);
      expect(during.code).toBe(1);
      expect(during.stdout).toContain(`${holder}: unreachable`);
    } finally {
      spawnSync(process.execPath, [KHA, 'lab', 'fault', 'rejoin', holder], { env });
    }
    await new Promise((r) => setTimeout(r, 3000));
    healthyButForTheCertificate(kha(['status']));
  });

  // Last: it takes a whole machine down and up again.
  it('reboot runs only with --destructive, and then the holder returns without taking the VIP back', () => {
    const refused = kha(['verify-failover', '--drill', 'reboot']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--drill reboot takes a whole host down: add --destructive to run it');
    const r = kha(['verify-failover', '--drill', 'reboot', '--destructive']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/reboot\s+pass/);
    expect(servicesEverywhere()).toBe('active active 0|active active 0');
  });
});
