import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labUp } from '../../src/lab/lifecycle.js';
import { labDirs, labFiles } from '../../src/lab/state.js';
import { partitionCommands, type DrillName } from '../../src/drill/drills.js';
import { shellQuote } from '../../src/shell/quote.js';
import { CI_ENV as env, inventoryOf, KHA, NOT_LO, onHost, runKha } from './harness.js';
import { tokenKubeconfig } from '../../src/kubeconfig.js';

// The first build in the order the guides teach, then verify-failover and
// status against the cluster it made: 2 load balancers, 3 masters that have
// no apiserver until the lab's kubeadm stand-in runs. The drills break real
// daemons on real machines.

let hostsYaml = '';

function kha(args: string[], file = hostsYaml) {
  return runKha([...args, file]);
}

const LB = { lb1: '10.77.0.11', lb2: '10.77.0.12' };

/** Status of the cluster the first build made: nothing to report, the certificate through the VIP included. */
function healthy(r: { code: number; stdout: string }): void {
  expect(r.code, r.stdout).toBe(0);
  expect(r.stdout.trimEnd().split('\n').pop()).toBe('healthy');
  expect(r.stdout).toMatch(/certificate through the VIP: CN=kube-apiserver-m\d, SANs .*10\.77\.0\.10/);
}

function lab(...args: string[]) {
  return runKha(['lab', ...args], env, 300_000);
}

/** keepalived's state changes on a load balancer since it booted, as its journal has them. */
function vrrpStates(address: string): string[] {
  return onHost(address, "journalctl -u keepalived -o cat --no-pager | grep -o 'Entering [A-Z]* STATE' || true").trim().split('\n').filter(Boolean);
}

function servicesEverywhere(): string {
  return Object.values(LB)
    .map((a) => onHost(a, 'systemctl is-active keepalived haproxy | tr "\\n" " "; ip route show type blackhole | wc -l').trim())
    .join('|');
}

/**
 * One line per load balancer: both services, the routes drills add, rp_filter,
 * the drills' restore units, and whether it holds the VIP.
 */
function lbState(address: string): string {
  return onHost(
    address,
    'echo $(systemctl is-active keepalived haproxy) routes=$( { ip route show type blackhole; ip route show type prohibit; } | wc -l)' +
      ' rp_filter=$(cat /proc/sys/net/ipv4/conf/all/rp_filter) units=$(systemctl list-units --all --plain --no-legend "kha-drill-*" | wc -l)' +
      " vip=$(ip -o -4 addr show | grep -v '^[0-9]*: lo ' | grep -c ' inet 10.77.0.10/')",
  ).trim();
}

/** Whole: every service up, no drill route, rp_filter as at the start, no restore left waiting, one VIP holder. */
function whole(rpFilter: Record<string, string>): { ok: boolean; state: string } {
  const states = Object.entries(LB).map(([name, address]) => [name, lbState(address)] as const);
  const ok =
    states.every(([name, s]) => s.startsWith(`active active routes=0 rp_filter=${rpFilter[name]} units=0 vip=`)) &&
    states.filter(([, s]) => s.endsWith('vip=1')).length === 1;
  return { ok, state: states.map(([name, s]) => `${name}: ${s}`).join(' | ') };
}

function rpFilterNow(): Record<string, string> {
  return Object.fromEntries(Object.entries(LB).map(([name, a]) => [name, onHost(a, 'cat /proc/sys/net/ipv4/conf/all/rp_filter').trim()]));
}

/** Polls until the lab is whole: the seconds since `from` (a performance.now()), or Infinity and the last state seen once `withinS` have passed. */
async function untilWhole(rpFilter: Record<string, string>, from: number, withinS: number): Promise<{ seconds: number; state: string }> {
  for (;;) {
    const w = whole(rpFilter);
    const seconds = (performance.now() - from) / 1000;
    if (w.ok || seconds > withinS) return { seconds: w.ok ? seconds : Infinity, state: w.state };
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * verify-failover with one drill, `signal` sent once its output matches
 * `when`. In the lab kha re-runs itself inside the operator's network
 * namespace: the process that runs the drill is the child of the one
 * spawned here (`ip netns exec` execs it), and that is the one signalled.
 */
async function signalMidDrill(drill: DrillName, when: RegExp, signal: NodeJS.Signals) {
  const child = spawn(process.execPath, [KHA, 'verify-failover', '--drill', drill, hostsYaml], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let signalledAt = 0;
  const code = await new Promise<number>((resolve) => {
    const watch = (d: Buffer) => {
      out += d.toString();
      if (signalledAt || !when.test(out)) return;
      const inner = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim());
      signalledAt = performance.now();
      process.kill(inner, signal);
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    child.on('exit', (c) => resolve(c ?? -1));
  });
  const armedS = Number(/the fault undoes itself after (\d+) s/.exec(out)?.[1]);
  return { code, out, signalledAt, exitedAt: performance.now(), armedS };
}

/** What each drill has broken once its output says so: kha is killed right there. */
const KILLED_AT: [DrillName, RegExp][] = [
  ['keepalived-stop', /fault injected/],
  ['keepalived-kill', /fault injected/],
  ['haproxy-down', /fault injected/],
  ['backend-down', /fault injected/],
  ['partition', /fault injected/],
  // Killed while keepalived is stopped, before the drill starts it again.
  ['failback', /keepalived stopped on/],
];

/** Between a host's timer firing and this test seeing the lab whole: the heal, keepalived electing one holder, the polls. */
const SETTLE_S = 5;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the lab tests need root');
  await labDown(process.env, () => undefined);
  hostsYaml = (await labUp({ lbs: 2, masters: 3, workers: 0 }, process.env, () => undefined, { beforeKubeadm: true })).hostsYaml;
}, 1_200_000);

afterAll(async () => {
  await labDown(process.env, () => undefined);
}, 300_000);

describe('the first build: the endpoint, then kubeadm through it', () => {
  it('apply before kubeadm init: exit 0, the endpoint reported, no apiserver yet, and the VIP steady with every backend down', async () => {
    const r = kha(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('The endpoint is up: the VIP 10.77.0.10:6443 is held by lb1 and haproxy listens on it. No apiserver answers yet');
    for (const m of ['m1', 'm2', 'm3']) expect(r.stdout).toContain(`  ${m}: connection refused`);
    expect(r.stdout).toContain(`Next: kha kubeadm ${hostsYaml} --out kubeadm-config.yaml`);
    expect(r.stderr).not.toContain('warning');
    // keepalived follows the local haproxy, not the apiservers: one holder throughout, and no FAULT.
    const holders: string[] = [];
    for (let i = 0; i < 8; i++) {
      holders.push(Object.entries(LB).filter(([, a]) => onHost(a, NOT_LO).includes(' 10.77.0.10/')).map(([n]) => n).join('+'));
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(new Set(holders)).toEqual(new Set(['lb1']));
    const lb1 = vrrpStates(LB.lb1);
    expect(lb1.filter((x) => x === 'Entering MASTER STATE'), lb1.join(', ')).toHaveLength(1);
    expect(lb1.at(-1)).toBe('Entering MASTER STATE');
    expect([...lb1, ...vrrpStates(LB.lb2)].filter((x) => x !== 'Entering BACKUP STATE' && x !== 'Entering MASTER STATE')).toEqual([]);
    expect(vrrpStates(LB.lb2)).not.toContain('Entering MASTER STATE');
  });

  it("kha kubeadm hands kubeadm the endpoint; init on m1 gets exactly kha's certSANs; status --wait shows m1 UP and the rest not yet", () => {
    const config = join(labDirs(process.env).lab, 'kubeadm-config.yaml');
    const k = kha(['kubeadm', '--out', config]);
    expect(k.code, k.stderr).toBe(0);
    expect(k.stdout).toContain('controlPlaneEndpoint 10.77.0.10:6443, certSANs 10.77.0.10');
    const init = lab('kubeadm', 'init', 'm1', '--config', config);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('m1: initialised; apiserver certificate SANs m1, kubernetes, kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.cluster.local, 10.96.0.1, 10.77.0.21, 10.77.0.10; apiserver up');
    expect(init.stdout).toContain(`admin kubeconfig (kubeadm's /etc/kubernetes/admin.conf): ${labFiles(labDirs(process.env)).adminConf}`);
    expect(readFileSync(labFiles(labDirs(process.env)).adminConf, 'utf8')).toContain('server: https://10.77.0.10:6443');
    const waited = kha(['status', '--wait=4']);
    expect(waited.code, waited.stdout).toBe(1);
    expect(waited.stdout).toMatch(/ {2}m1: UP\n/);
    expect(waited.stdout).toContain('m2: lb1: connection refused');
    expect(waited.stdout).toMatch(/still not UP after 4 s: m2 \(.*\), m3 \(/);
  });

  it('m2 and m3 join through the VIP; status --wait sees every master UP, and status is healthy, certificate included', () => {
    for (const m of ['m2', 'm3']) {
      const j = lab('kubeadm', 'join', m);
      expect(j.code, j.stderr).toBe(0);
      expect(j.stdout).toContain(`${m}: joined`);
    }
    const waited = kha(['status', '--wait=60']);
    expect(waited.code, waited.stdout).toBe(0);
    expect(waited.stdout).toMatch(/every master UP after \d+\.\d s/);
    healthy(waited);
  });

  it('apply again records the masters; one that answered before and stops makes apply exit 1, naming it and what haproxy found', () => {
    const again = kha(['apply', '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('No changes');
    expect(again.stdout).toMatch(/every master reached \(m1 \d+, m2 \d+, m3 \d+\)/);
    expect(onHost(LB.lb2, 'cat /var/lib/kha/apiservers.seen')).toBe('m1 10.77.0.21:6443\nm2 10.77.0.22:6443\nm3 10.77.0.23:6443\n');
    expect(lab('fault', 'apiserver-stop', 'm3').code).toBe(0);
    try {
      const down = kha(['apply', '--yes']);
      expect(down.code, down.stdout).toBe(1);
      expect(down.stderr).toContain("error: m3's apiserver at 10.77.0.23:6443 answered through this endpoint before and now: connection refused");
    } finally {
      expect(lab('fault', 'apiserver-start', 'm3').code).toBe(0);
    }
    expect(kha(['status', '--wait=30']).code).toBe(0);
  });
});

describe('kha verify-failover on the cluster the first build made', () => {
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
          streams: { name: string }[];
          remoteStreamsUnavailable?: string;
          kubectlLeftOut?: string;
        };
        expectations: { name: string; held: boolean; detail: string }[];
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
    // m1 held its own streams through the VIP, judged with the operator's; the operator's kubectl (real client-go, over HTTP/2) beside the drill's own.
    expect(timeline.remoteStreamsUnavailable).toBeUndefined();
    expect(timeline.kubectlLeftOut).toBeUndefined();
    expect(timeline.streams.map((x) => x.name)).toEqual(['plain', 'client-go', 'kubectl', 'plain from m1', 'client-go from m1']);
    expect(parsed.drills[0]!.expectations.find((e) => e.name.startsWith('held connections'))?.held).toBe(true);
    expect(servicesEverywhere()).toBe('active active 0|active active 0');
  });

  it('streams held on the load balancer that loses the VIP resume on the new holder', () => {
    const holder = Object.entries(LB).find(([, a]) => onHost(a, NOT_LO).includes(' 10.77.0.10/'))![0];
    const r = kha(['verify-failover', '--drill', 'keepalived-stop', '--probe-from', holder, '--json']);
    const drill = (JSON.parse(r.stdout) as { drills: { target: string; timeline: { streams: { name: string }[] }; expectations: { name: string; held: boolean; detail: string }[] }[] }).drills[0]!;
    expect(drill.target).toBe(holder);
    expect(drill.timeline.streams.map((x) => x.name)).toContain(`plain from ${holder}`);
    const judged = drill.expectations.find((e) => e.name.startsWith('held connections'));
    expect(judged?.held, judged?.detail).toBe(true);
    expect(r.code, r.stderr).toBe(0);
  });

  it('--kubeconfig: a real watch through the VIP with kubectl on that kubeconfig, the ConfigMap gone afterwards; credentials that may not are said, and the drill goes on', () => {
    const dir = labDirs(process.env).lab;
    const kubeconfig = (token: string) => {
      const file = join(dir, `${token}.kubeconfig`);
      writeFileSync(file, tokenKubeconfig({ cluster: 'lab', user: 'ops', server: 'https://10.77.0.10:6443', token }));
      return file;
    };
    type Run = { ok: boolean; warnings?: string[]; drills: { timeline: { streams: { name: string; kind: string; connections: { events: number[] }[] }[]; kubectlLeftOut?: string }; expectations: { name: string; held: boolean; detail: string }[] }[] };
    // kubeadm's admin.conf, as lab kubeadm init wrote it: the cluster's CA checks the VIP's and each master's certificate.
    const r = kha(['verify-failover', '--drill', 'keepalived-stop', '--kubeconfig', labFiles(labDirs(process.env)).adminConf, '--json']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const drill = (JSON.parse(r.stdout) as Run).drills[0]!;
    expect(drill.timeline.kubectlLeftOut).toBeUndefined();
    const real = drill.timeline.streams.find((x) => x.kind === 'kubectl')!;
    expect(real.connections.flatMap((c) => c.events).length).toBeGreaterThan(20);
    const judged = drill.expectations.find((e) => e.name.startsWith('held connections'));
    expect(judged?.held, judged?.detail).toBe(true);
    // Deleted on every master at the end.
    for (const m of ['10.77.0.21', '10.77.0.22', '10.77.0.23']) {
      expect(onHost(m, 'curl -sk -o /dev/null -w "%{http_code}" https://127.0.0.1:6443/api/v1/namespaces/default/configmaps/kha-drill').trim()).toBe('404');
    }
    const denied = kha(['verify-failover', '--drill', 'keepalived-stop', '--kubeconfig', kubeconfig('kha-forbidden'), '--json']);
    expect(denied.code, `${denied.stdout}\n${denied.stderr}`).toBe(0);
    const out = JSON.parse(denied.stdout) as Run;
    expect(out.warnings?.join('\n')).toMatch(/a real watch cannot be held with .*kha-forbidden\.kubeconfig: configmaps is forbidden: User "kha-forbidden" cannot create resource "configmaps"/);
    expect(out.drills[0]!.timeline.kubectlLeftOut).toMatch(/^no real watch: configmaps is forbidden/);
    const missing = kha(['verify-failover', '--drill', 'keepalived-stop', '--kubeconfig', join(dir, 'no-such.kubeconfig')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--kubeconfig ${join(dir, 'no-such.kubeconfig')}: cannot be read (ENOENT)`);
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
    healthy(before);
    const holder = /held by (lb\d)/.exec(before.stdout)![1]! as keyof typeof LB;
    const inv = inventoryOf(hostsYaml);
    const sides = partitionCommands(inv, inv.lbs.find((lb) => lb.name === holder)!);
    for (const p of sides) onHost(LB[p.host as keyof typeof LB], `systemd-run --quiet --unit=kha-test-heal --on-active=60s /bin/sh -c ${shellQuote(p.heal)} && ${p.cut}`);
    try {
      await new Promise((r) => setTimeout(r, 3000));
      const during = kha(['status']);
      expect(during.code).toBe(1);
      expect(during.stdout).toContain('SPLIT BRAIN');
    } finally {
      for (const p of sides) onHost(LB[p.host as keyof typeof LB], `${p.heal}; systemctl stop kha-test-heal.timer`);
    }
    await new Promise((r) => setTimeout(r, 3000));
    healthy(kha(['status']));
  });

  it('status says which host it cannot reach while one is isolated from the bridge', async () => {
    const holder = /held by (lb\d)/.exec(kha(['status']).stdout)![1]!;
    expect(lab('fault', 'isolate', holder).code).toBe(0);
    try {
      const during = kha(['status']);
      expect(during.code).toBe(1);
      expect(during.stdout).toContain(`${holder}: unreachable`);
    } finally {
      lab('fault', 'rejoin', holder);
    }
    await new Promise((r) => setTimeout(r, 3000));
    healthy(kha(['status']));
  });

  describe('a drill restores every host, whatever ends it', () => {
    let rpFilter: Record<string, string> = {};
    const figures: string[] = [];
    beforeAll(() => {
      rpFilter = rpFilterNow();
    });
    afterAll(() => {
      console.log(`time from the signal to every host whole:\n${figures.join('\n')}`);
    });

    for (const [drill, when] of KILLED_AT) {
      it(`kha killed with SIGKILL mid-${drill}: each host undoes the fault on its own timer`, async () => {
        const r = await signalMidDrill(drill, when, 'SIGKILL');
        expect(r.signalledAt, r.out).toBeGreaterThan(0);
        expect(r.armedS, r.out).toBeGreaterThan(10);
        // Killed between arming and disarming: a restore still waits on the lab.
        expect(whole(rpFilter).state).toMatch(/units=[1-9]/);
        const back = await untilWhole(rpFilter, r.signalledAt, r.armedS + SETTLE_S);
        figures.push(`  SIGKILL mid-${drill}: ${back.seconds.toFixed(1)} s (timer ${r.armedS} s after arming)`);
        expect(back.seconds, back.state).toBeLessThanOrEqual(r.armedS + SETTLE_S);
      });
    }

    it('SIGTERM mid-drill restores at once and exits 1; a restore an earlier run left armed runs first', async () => {
      // As a kha killed mid-drill would leave it: a restore still waiting on lb2.
      onHost(LB.lb2, 'systemd-run --quiet --unit=kha-drill-stale-000000 --on-active=300s --timer-property=RemainAfterElapse=no --property=Type=oneshot /bin/sh -c "touch /run/kha-test-swept"');
      const r = await signalMidDrill('partition', /fault injected/, 'SIGTERM');
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain('lb2: an interrupted run left a restore armed; it ran now (kha-drill-stale-000000)');
      expect(onHost(LB.lb2, 'ls /run/kha-test-swept && rm /run/kha-test-swept').trim()).toBe('/run/kha-test-swept');
      expect(r.out).toContain('SIGTERM: restoring, then stopping');
      expect(r.out).not.toContain('NOT RESTORED');
      // Healed by kha itself, timers removed: whole right away, bar keepalived settling on one holder.
      const back = await untilWhole(rpFilter, r.exitedAt, 3);
      figures.push(`  SIGTERM mid-partition: exit ${((r.exitedAt - r.signalledAt) / 1000).toFixed(1)} s after the signal, whole ${back.seconds.toFixed(1)} s after the exit`);
      expect(back.seconds, back.state).toBeLessThanOrEqual(3);
    });
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
