import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HostFacts, ServiceFacts } from '../../../src/facts/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { describeChange } from '../../../src/plan/changes.js';
import { renderAll } from '../../../src/render/render.js';
import { renderSpec } from '../../../src/render/spec.js';
import { topologyOf } from '../../../src/topology/of.js';
import { HANDOVER_MARKER, handoverTask } from '../../../src/topology/static-pods/handover.js';
import { moveVipTask } from '../../../src/topology/static-pods/move-vip.js';
import { packageRoot } from '../../../src/paths.js';
import { debianNode } from '../node-proxy/host.js';
import { stageDir } from './stage-dir.js';

// kha-handover on a static-pods master: what apply plans, and the script
// its start (watch) and stop run, against stand-ins for busctl,
// systemd-inhibit, systemctl, ip, pgrep and ps around a real process in the
// wrapper's place.

function load(): Inventory {
  const r = parseInventory(readFileSync(join(packageRoot, 'examples', 'static-pods.yaml'), 'utf8'), 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

const inv = load();
const cp1 = renderAll(inv).find((h) => h.host === 'cp1')!;

function facts(extra: { files?: HostFacts['files']; services?: ServiceFacts[] } = {}): HostFacts {
  return {
    ...debianNode('cp1'),
    files: extra.files ?? [],
    directories: [],
    services: extra.services ?? [],
    packages: { keepalived: null, haproxy: null },
  };
}

const plan = (f: HostFacts) => handoverTask.plan({ inv, lb: inv.lbs[0]!, facts: f, files: cp1.files, planned: [], services: [] }).map(describeChange);

describe('kha-handover: what apply plans', () => {
  it('the script, the unit and a drop-in for each runtime, one daemon-reload, then the unit enabled and started', () => {
    expect(plan(facts())).toEqual([
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

  const installed = () =>
    cp1.files
      .filter((f) => f.spec.id.startsWith('handover-'))
      .map((f) => ({ path: f.path, exists: true, mode: f.mode, owner: 'root', group: 'root', content: f.content }));
  const running: ServiceFacts = { name: 'kha-handover', present: true, active: 'active', enabled: 'enabled', mainPid: 0, startedAtMonotonicUs: 1 };
  /** The marker apply wrote when it last started the unit from these files. */
  const startedMarker = () => {
    const start = handoverTask
      .plan({ inv, lb: inv.lbs[0]!, facts: facts(), files: cp1.files, planned: [], services: [] })
      .find((c) => c.kind === 'service.start');
    if (start?.kind !== 'service.start' || !start.marker) throw new Error('no start with a marker');
    expect(start.marker.path).toBe(HANDOVER_MARKER);
    return { path: start.marker.path, exists: true, mode: 0o600, owner: 'root', group: 'root', content: start.marker.digest };
  };

  it('nothing once it is in place and running what it was started from', () => {
    expect(plan(facts({ files: [...installed(), startedMarker()], services: [running] }))).toEqual([]);
  });

  it('a restart when the script or the unit changed, or a run stopped before it restarted (the marker names other files)', () => {
    const files = installed().map((f) => (f.path === '/etc/keepalived/kha-handover.sh' ? { ...f, content: `${f.content}# older\n` } : f));
    expect(plan(facts({ files: [...files, startedMarker()], services: [running] }))).toEqual(['update /etc/keepalived/kha-handover.sh', 'systemctl daemon-reload', 'start kha-handover']);
    const stale = { ...startedMarker(), content: 'written by an earlier kha' };
    expect(plan(facts({ files: [...installed(), stale], services: [running] }))).toEqual(['start kha-handover']);
  });

  it('is a stage of apply on static pods, after the configuration and before the manifests, and preflight has nothing to say of it', () => {
    const t = topologyOf(inv);
    expect([...t.tasks.keys()]).toEqual(['directories', 'firewall', 'config', 'sysctl', 'handover', 'move-vip', 'manifests']);
    expect(t.checks.has('shutdown-order')).toBe(false);
    expect(t.probe(inv).services).toEqual(['kha-handover']);
    expect(t.probe(inv).files).toContain(HANDOVER_MARKER);
  });

  it('orders after the unit every container scope and the services that stop containers as they stop, and the unit stops before the network', () => {
    const file = (path: string) => cp1.files.find((f) => f.path === path)!.content;
    for (const unit of ['libpod-.scope', 'cri-containerd-.scope', 'crio-.scope', 'docker-.scope', 'docker.service', 'podman-restart.service']) {
      expect(file(`/etc/systemd/system/${unit}.d/kha-handover.conf`)).toMatch(/\[Unit\]\nBefore=kha-handover\.service\n$/);
    }
    const unit = file('/etc/systemd/system/kha-handover.service');
    expect(unit).toContain('After=network.target dbus.service systemd-logind.service');
    expect(unit).toMatch(/Type=simple\nExecStart=\/etc\/keepalived\/kha-handover\.sh watch\nExecStop=\/etc\/keepalived\/kha-handover\.sh stop\nTimeoutStopSec=15\n/);
  });
});

describe("move-vip: the holder hands the VIP over before its haproxy pod restarts", () => {
  const manifest = cp1.files.find((f) => f.spec.id === 'haproxy.yaml')!;
  const keepalivedManifest = cp1.files.find((f) => f.spec.id === 'keepalived.yaml')!;
  const onFile = (path: string, content: string) => ({ path, exists: true, content, mode: 0o644, owner: 'root', group: 'root' });
  /** cp1's facts: the VIP on eth0 or not, and its manifests as given. */
  function holder(holds: boolean, haproxy: string, keepalived = keepalivedManifest.content): HostFacts {
    return {
      ...facts({ files: [onFile(manifest.path, haproxy), onFile(keepalivedManifest.path, keepalived)] }),
      interfaces: [{ name: 'eth0', up: true, addresses: ['10.77.0.21/24', ...(holds ? ['10.77.0.10/24'] : [])] }],
    };
  }
  const planFor = (f: HostFacts, i = inv) => moveVipTask.plan({ inv: i, lb: i.lbs[0]!, facts: f, files: cp1.files, planned: [], services: [] });

  it("on the holder whose haproxy manifest changes: one hand-over, run by kha-handover's script", () => {
    const changes = planFor(holder(true, 'an older manifest'));
    expect(changes).toEqual([{ kind: 'vip.handover', vip: '10.77.0.10', script: '/etc/keepalived/kha-handover.sh', why: "its new manifest restarts haproxy's pod on this master" }]);
    expect(changes.map(describeChange)).toEqual(["hand 10.77.0.10 to another master (its new manifest restarts haproxy's pod on this master)"]);
  });

  it("nothing on a master without the VIP, when haproxy's manifest stays (keepalived's alone restarts keepalived, which hands over itself), or with no other master", () => {
    expect(planFor(holder(false, 'an older manifest'))).toEqual([]);
    expect(planFor(holder(true, manifest.content, 'an older keepalived manifest'))).toEqual([]);
    const alone = { ...inv, lbs: inv.lbs.slice(0, 1) };
    expect(planFor(holder(true, 'an older manifest'), alone)).toEqual([]);
  });

  it('comes right before the manifests on the VIP holder, and only there', () => {
    const playbook = readFileSync(join(packageRoot, 'playbooks', 'static-pods.yaml'), 'utf8');
    expect(playbook).toMatch(/- name: manifests on the VIP holder\n\s+tasks: \[move-vip, manifests\]\n\s+on: vip-holder\n/);
    expect(playbook.match(/move-vip/g)).toHaveLength(2);
  });
});

describe("kha-handover's script", () => {
  const spec = topologyOf(inv).files.find((f) => f.id === 'handover-script')!;
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

  /** A message as `busctl monitor` prints it: a header line, one naming the member, then the arguments. */
  const busMessage = (member: string, args: string) =>
    `‣ Type=signal  Endian=l  Flags=1  Version=1 Cookie=30  Timestamp="Wed 2026-12-02 04:07:34.037232 UTC"\n` +
    `  Sender=:1.1  Path=/org/freedesktop/login1  Interface=org.freedesktop.login1.Manager  Member=${member}\n` +
    `  UniqueName=:1.1\n  MESSAGE "b" {\n          ${args}\n  };\n\n`;

  /**
   * The script with stand-ins: systemctl says the given state, ip shows the
   * VIP on eth0 when this master holds it, pgrep names a keepalived and ps
   * gives as its parent a real process that runs as kha's wrapper (its
   * command line names it) and ends 0.2 s after SIGTERM; busctl prints what
   * the test appends to a file, systemd-inhibit holds a "lock" (a file, which
   * its --list shows) until it is killed. The marker goes to the stage.
   */
  function stage(state: string, holds: boolean, logind = true, wrapperEnds = true) {
    const { dir, bin, log, script } = stageDir('kha-handover-');
    const onTerm = `echo "wrapper got TERM" >> ${log}; ${wrapperEnds ? 'sleep 0.2; exit 0' : ''}`;
    const wrapper = spawn('bash', ['-c', `trap '${onTerm}' TERM; while :; do sleep 0.05; done`, '/etc/keepalived/kha-keepalived-pod.sh'], { stdio: 'ignore' });
    const bus = join(dir, 'bus');
    const lock = join(dir, 'lock');
    const marker = join(dir, 'marker');
    writeFileSync(bus, '');
    script(join(bin, 'systemctl'), `#!/bin/sh\necho ${state}\n`);
    script(join(bin, 'ip'), `#!/bin/sh\n${holds ? "echo '2: eth0    inet 10.77.0.10/24 scope global eth0'" : ':'}\n`);
    script(join(bin, 'pgrep'), '#!/bin/sh\necho 4242\n');
    script(join(bin, 'ps'), `#!/bin/sh\necho " ${wrapper.pid}"\n`);
    script(join(bin, 'busctl'), `#!/bin/sh\necho "busctl $*" >> ${log}\nexec tail -n +1 -f ${bus}\n`);
    script(
      join(bin, 'systemd-inhibit'),
      `#!/bin/bash\nif [ "$1" = --list ]; then [ -e ${lock} ] && echo 'kha-handover 0 root 493 systemd-inhibit shutdown delay'; exit 0; fi\n` +
        (logind ? '' : 'echo "Failed to inhibit: no logind" >&2; exit 1\n') +
        `echo "lock $1 $2 $3" >> ${log}\ntouch ${lock}\ntrap 'rm -f ${lock}; echo "lock released" >> ${log}; exit 0' TERM\nwhile :; do sleep 0.05; done\n`,
    );
    // A 1 s limit: the test of a wrapper that outlives it need not wait 10.
    script(join(dir, 'handover'), renderSpec(spec, { ...(spec.context(inv, inv.lbs[0]!, 'eth0') as object), marker, limitS: 1 }).content);
    // Not spawnSync: the wrapper is this process's child, and only a running event loop reaps it (a zombie still answers kill -0).
    const start = (mode: string) => {
      const c = spawn(join(dir, 'handover'), [mode], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
      let stdout = '';
      c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      const closed = new Promise<number | null>((resolve) => c.on('close', (status) => resolve(status)));
      return { closed, stdout: () => stdout, kill: () => process.kill(-c.pid!, 'SIGKILL') };
    };
    const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 150 && !what(); i++) await new Promise((r) => setTimeout(r, 20));
      return what();
    };
    const markerText = () => (existsSync(marker) ? readFileSync(marker, 'utf8').trim() : null);
    const done = () => {
      wrapper.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    };
    return { wrapper, start, lines, until, markerText, say: (text: string) => appendFileSync(bus, text), done };
  }

  it("stop, at shutdown, on the holder: SIGTERM to keepalived's wrapper, this boot's id in the marker first, and returns only once the wrapper has ended", async () => {
    const s = stage('stopping', true);
    try {
      await new Promise((r) => setTimeout(r, 100));
      const r = s.start('stop');
      expect(await r.closed).toBe(0);
      expect(s.lines()).toEqual(['wrapper got TERM']);
      // The wrapper took 0.2 s to end after the signal: the script waited for it.
      expect(s.wrapper.exitCode ?? s.wrapper.signalCode).not.toBeNull();
      expect(s.markerText()).toBe(bootId);
      expect(r.stdout()).toContain("the shutdown stops kha-handover: keepalived's container handed 10.77.0.10 over and ended");
    } finally {
      s.done();
    }
  });

  it('stop signals nothing when the system is not shutting down (apply restarting the unit), or on a master that does not hold the VIP', async () => {
    for (const [state, holds] of [['running', true], ['degraded', true], ['stopping', false]] as const) {
      const s = stage(state, holds);
      try {
        await new Promise((r) => setTimeout(r, 100));
        const r = s.start('stop');
        expect(await r.closed).toBe(0);
        expect(s.lines()).toEqual([]);
        expect(s.wrapper.exitCode).toBeNull();
        expect(s.markerText()).toBeNull();
        if (!holds) expect(r.stdout()).toContain('eth0 does not hold 10.77.0.10: nothing to hand over');
      } finally {
        s.done();
      }
    }
  });

  it("move, before apply rewrites the holder's manifests: SIGTERM to the wrapper, whatever systemd's state, no marker (keepalived runs again at once), and returns once it ended", async () => {
    const s = stage('running', true);
    try {
      await new Promise((r) => setTimeout(r, 100));
      const r = s.start('move');
      expect(await r.closed).toBe(0);
      expect(s.lines()).toEqual(['wrapper got TERM']);
      expect(s.wrapper.exitCode ?? s.wrapper.signalCode).not.toBeNull();
      expect(s.markerText()).toBeNull();
      expect(r.stdout()).toContain("kha apply rewrites this master's manifests: keepalived's container handed 10.77.0.10 over and ended");
    } finally {
      s.done();
    }
  });

  it('move fails when the wrapper outlives the limit, and does nothing on a master without the VIP', async () => {
    const stuck = stage('running', true, true, false);
    try {
      await new Promise((r) => setTimeout(r, 100));
      const r = stuck.start('move');
      expect(await r.closed).toBe(1);
      expect(stuck.lines()).toEqual(['wrapper got TERM']);
      expect(stuck.wrapper.exitCode).toBeNull();
      expect(r.stdout()).toContain("keepalived's container still runs 1 s after SIGTERM");
    } finally {
      stuck.done();
    }
    const idle = stage('running', false);
    try {
      const r = idle.start('move');
      expect(await r.closed).toBe(0);
      expect(idle.lines()).toEqual([]);
      expect(r.stdout()).toContain('eth0 does not hold 10.77.0.10: nothing to hand over');
    } finally {
      idle.done();
    }
  });

  it("watch holds a logind delay lock, hands over on PrepareForShutdown(true) and only then releases the lock; a cancelled shutdown takes the marker away and the lock again", async () => {
    const s = stage('running', true);
    const w = s.start('watch');
    try {
      expect(await s.until(() => s.lines().includes('lock --what=shutdown --mode=delay --who=kha-handover'))).toBe(true);
      expect(s.lines()).toContain('busctl --system monitor org.freedesktop.login1');
      // Another message of logind's with a boolean true is no shutdown.
      s.say(busMessage('PropertiesChanged', 'BOOLEAN true;'));
      await new Promise((r) => setTimeout(r, 300));
      expect(s.wrapper.exitCode).toBeNull();
      s.say(busMessage('PrepareForShutdown', 'BOOLEAN true;'));
      expect(await s.until(() => s.lines().includes('lock released'))).toBe(true);
      const lines = s.lines();
      // The wrapper had ended (0.2 s after its signal) before the lock went: logind waited for the hand-over.
      expect(lines.slice(lines.indexOf('wrapper got TERM'))).toEqual(['wrapper got TERM', 'lock released']);
      expect(s.wrapper.exitCode ?? s.wrapper.signalCode).not.toBeNull();
      expect(s.markerText()).toBe(bootId);
      expect(w.stdout()).toContain("logind announced a shutdown: keepalived's container handed 10.77.0.10 over and ended");
      s.say(busMessage('PrepareForShutdown', 'BOOLEAN false;'));
      expect(await s.until(() => s.lines().filter((l) => l.startsWith('lock --what')).length === 2)).toBe(true);
      expect(s.markerText()).toBeNull();
      expect(w.stdout()).toContain('the shutdown was cancelled: keepalived runs again here');
    } finally {
      w.kill();
      s.done();
    }
  });

  it('watch without a lock from logind says so and stays up for its stop to hand over', async () => {
    const s = stage('running', true, false);
    const w = s.start('watch');
    let ended = false;
    void w.closed.then(() => (ended = true));
    try {
      expect(await s.until(() => w.stdout().includes('logind gave no delay lock: a reboot hands over only when it stops this unit'))).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(ended).toBe(false);
    } finally {
      w.kill();
      s.done();
    }
  });
});
