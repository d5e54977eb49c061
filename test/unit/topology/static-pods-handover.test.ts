import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HostFacts, ServiceFacts } from '../../../src/facts/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { describeChange } from '../../../src/plan/changes.js';
import { renderAll } from '../../../src/render/render.js';
import { renderSpec } from '../../../src/render/spec.js';
import { topologyOf } from '../../../src/topology/of.js';
import { handoverCheck, handoverTask } from '../../../src/topology/static-pods/handover.js';
import { packageRoot } from '../../../src/paths.js';
import { debianNode } from '../node-proxy/host.js';
import { stageDir } from './stage-dir.js';

// kha-handover on a static-pods master: what apply plans by systemd's
// version, what preflight says where it cannot, and the script its stop
// runs, against stand-ins for systemctl, ip, pgrep and ps around a real
// process in the wrapper's place.

function load(): Inventory {
  const r = parseInventory(readFileSync(join(packageRoot, 'examples', 'static-pods.yaml'), 'utf8'), 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

const inv = load();
const cp1 = renderAll(inv).find((h) => h.host === 'cp1')!;

function facts(systemdVersion: number | null, extra: { files?: HostFacts['files']; services?: ServiceFacts[] } = {}): HostFacts {
  return {
    ...debianNode('cp1'),
    systemdVersion,
    files: extra.files ?? [],
    directories: [],
    services: extra.services ?? [],
    packages: { keepalived: null, haproxy: null },
  };
}

const plan = (f: HostFacts) => handoverTask.plan({ inv, lb: inv.lbs[0]!, facts: f, files: cp1.files, planned: [], services: [] }).map(describeChange);

describe('kha-handover: what apply plans', () => {
  it('on systemd 252: the script, the unit and a drop-in for each runtime, one daemon-reload, then the unit enabled and started', () => {
    expect(plan(facts(252))).toEqual([
      'create /etc/keepalived/kha-handover.sh (0755)',
      'create /etc/systemd/system/kha-handover.service (0644)',
      'create /etc/systemd/system/libpod-.scope.d/kha-handover.conf (0644)',
      'create /etc/systemd/system/cri-containerd-.scope.d/kha-handover.conf (0644)',
      'create /etc/systemd/system/crio-.scope.d/kha-handover.conf (0644)',
      'create /etc/systemd/system/docker-.scope.d/kha-handover.conf (0644)',
      'create /etc/systemd/system/docker.service.d/kha-handover.conf (0644)',
      'create /etc/systemd/system/podman-restart.service.d/kha-handover.conf (0644)',
      'systemctl daemon-reload',
      'enable kha-handover at boot',
      'start kha-handover',
    ]);
  });

  it('nothing once it is in place and running', () => {
    const files = cp1.files.filter((f) => f.spec.id.startsWith('handover-')).map((f) => ({ path: f.path, exists: true, mode: f.mode, owner: 'root', group: 'root', content: f.content }));
    const running: ServiceFacts = { name: 'kha-handover', present: true, active: 'active', enabled: 'enabled', mainPid: 0, startedAtMonotonicUs: 1 };
    expect(plan(facts(255, { files, services: [running] }))).toEqual([]);
  });

  it('nothing on an older systemd, or one whose version kha could not read, and preflight says what that costs, without stopping the run', async () => {
    expect(plan(facts(249))).toEqual([]);
    expect(plan(facts(null))).toEqual([]);
    const versions: (number | null)[] = [239, null, 252];
    const problems = await handoverCheck.run({ inv, facts: new Map(inv.lbs.map((lb, i) => [lb.name, { ...facts(versions[i]!), host: lb.name }])), sessions: new Map() });
    expect(problems.map((p) => [p.host, p.warning, p.message.split(':')[0]])).toEqual([
      ['cp1', true, 'its systemd is 239'],
      ['cp2', true, 'kha could not read its systemd version'],
    ]);
    expect(problems[0]!.message).toContain("haproxy's container stops at the same moment as keepalived's");
  });

  it('is a stage of apply on static pods, after the configuration and before the manifests', () => {
    const t = topologyOf(inv);
    expect([...t.tasks.keys()]).toEqual(['directories', 'firewall', 'config', 'sysctl', 'handover', 'manifests']);
    expect(t.checks.has('shutdown-order')).toBe(true);
    expect(t.probe(inv).services).toEqual(['kha-handover']);
  });

  it('orders after the unit every container scope and the services that stop containers as they stop, and the unit stops before the network', () => {
    const file = (path: string) => cp1.files.find((f) => f.path === path)!.content;
    for (const unit of ['libpod-.scope', 'cri-containerd-.scope', 'crio-.scope', 'docker-.scope', 'docker.service', 'podman-restart.service']) {
      expect(file(`/etc/systemd/system/${unit}.d/kha-handover.conf`)).toMatch(/\[Unit\]\nBefore=kha-handover\.service\n$/);
    }
    const unit = file('/etc/systemd/system/kha-handover.service');
    expect(unit).toContain('After=network.target');
    expect(unit).toMatch(/Type=oneshot\nRemainAfterExit=yes\nExecStart=\/bin\/true\nExecStop=\/etc\/keepalived\/kha-handover\.sh\nTimeoutStopSec=15\n/);
  });
});

describe("kha-handover's stop", () => {
  const spec = topologyOf(inv).files.find((f) => f.id === 'handover-script')!;

  /**
   * The script with stand-ins: systemctl says the state in a file, ip shows
   * the VIP on eth0 while a file says so, pgrep names a keepalived and ps
   * gives as its parent a real process that runs as kha's wrapper (its
   * command line names it) and ends 0.2 s after SIGTERM.
   */
  function stage(state: string, holds: boolean) {
    const { dir, bin, log, script } = stageDir('kha-handover-');
    const wrapper = spawn('bash', ['-c', `trap 'echo "wrapper got TERM" >> ${log}; sleep 0.2; exit 0' TERM; while :; do sleep 0.05; done`, '/etc/keepalived/kha-keepalived-pod.sh'], { stdio: 'ignore' });
    const ended = new Promise<void>((resolve) => wrapper.on('exit', () => resolve()));
    script(join(bin, 'systemctl'), `#!/bin/sh\necho ${state}\n`);
    script(join(bin, 'ip'), `#!/bin/sh\n${holds ? "echo '2: eth0    inet 10.77.0.10/24 scope global eth0'" : ':'}\n`);
    script(join(bin, 'pgrep'), '#!/bin/sh\necho 4242\n');
    script(join(bin, 'ps'), `#!/bin/sh\necho " ${wrapper.pid}"\n`);
    script(join(dir, 'handover'), renderSpec(spec, spec.context(inv, inv.lbs[0]!, 'eth0')).content);
    // Not spawnSync: the wrapper is this process's child, and only a running event loop reaps it (a zombie still answers kill -0).
    const run = () =>
      new Promise<{ status: number | null; stdout: string }>((resolve) => {
        const c = spawn(join(dir, 'handover'), { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'inherit'] });
        let stdout = '';
        c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        c.on('close', (status) => resolve({ status, stdout }));
      });
    const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
    const done = () => {
      wrapper.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    };
    return { wrapper, ended, run, lines, done };
  }

  it("at shutdown, on the holder: SIGTERM to keepalived's wrapper, and returns only once it has ended", async () => {
    const s = stage('stopping', true);
    try {
      await new Promise((r) => setTimeout(r, 100));
      const r = await s.run();
      expect(r.status).toBe(0);
      expect(s.lines()).toEqual(['wrapper got TERM']);
      // The wrapper took 0.2 s to end after the signal: the script waited for it.
      expect(s.wrapper.exitCode ?? s.wrapper.signalCode).not.toBeNull();
      expect(r.stdout).toContain("keepalived's container handed 10.77.0.10 over and ended");
    } finally {
      s.done();
    }
  });

  it('signals nothing when the system is not shutting down (apply restarting the unit), or on a master that does not hold the VIP', async () => {
    for (const [state, holds] of [['running', true], ['degraded', true], ['stopping', false]] as const) {
      const s = stage(state, holds);
      try {
        await new Promise((r) => setTimeout(r, 100));
        const r = await s.run();
        expect(r.status).toBe(0);
        expect(s.lines()).toEqual([]);
        expect(s.wrapper.exitCode).toBeNull();
        if (!holds) expect(r.stdout).toContain('eth0 does not hold 10.77.0.10: nothing to hand over');
      } finally {
        s.done();
      }
    }
  });
});
