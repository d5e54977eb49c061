import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DRILL_NAMES } from '../../../src/drill/drills.js';
import { InternalError } from '../../../src/errors.js';
import { applyChange, Rollback } from '../../../src/execute/apply-change.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { kubeadmHandoff, handoffSteps, MANIFESTS_DIR_CHECK } from '../../../src/kubeadm/handoff.js';
import { packageRoot } from '../../../src/paths.js';
import type { Change } from '../../../src/plan/changes.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import { renderAll } from '../../../src/render/render.js';
import { renderSpec } from '../../../src/render/spec.js';
import { HAPROXY_VALIDATE, asPositional, inImageValidate, qualifiedImage, uncheckedReasons, validateCommand } from '../../../src/render/validators.js';
import { topologyOf } from '../../../src/topology/of.js';
import { WRAPPER_IN_IMAGE } from '../../../src/topology/static-pods/files.js';
import { KEEPALIVED_POD, POD_KEEPALIVED_KILL, POD_KEEPALIVED_STOP } from '../../../src/topology/static-pods/drills.js';
import { podSchemaProblems } from '../../../src/topology/static-pods/manifests.js';
import { parsePodStatus, podState } from '../../../src/topology/static-pods/running.js';
import type { FinalView } from '../../../src/topology/topology.js';
import { FakeSession } from '../../../src/transport/fake.js';
import { formatEndpoint } from '../../../src/ui/endpoint-view.js';
import { runKha } from '../cli-harness.js';
import { stageDir } from './stage-dir.js';

// The static-pods topology without a host: how hosts.yaml selects it, the
// manifests against the Pod schema, the validator's shell text run against
// stand-in runtimes, kubeadm's flag, and apply's verdict before any kubelet.

const example = join(packageRoot, 'examples', 'static-pods.yaml');

function load(text: string, file = 'hosts.yaml'): Inventory {
  const r = parseInventory(text, file, {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

const exampleText = readFileSync(example, 'utf8');

describe('topologyOf', () => {
  it('is static-pods when static_pods is set and every lb is a master', () => {
    const inv = load(exampleText);
    expect(topologyOf(inv).name).toBe('static-pods');
    expect(topologyOf(inv).playbook).toBe('static-pods');
    expect(() => loadPlaybook(topologyOf(inv))).not.toThrow();
  });

  it('stays on-masters without static_pods, and dedicated with a load balancer of its own', () => {
    const without = exampleText.replace(/^static_pods:[\s\S]*?(?=^lb:)/m, '');
    expect(topologyOf(load(without)).name).toBe('on-masters');
    const dedicated = without.replace('name: cp3\n    address: 10.77.0.23\n    interface: eth0', 'name: lb9\n    address: 10.77.0.29\n    interface: eth0');
    expect(topologyOf(load(dedicated)).name).toBe('dedicated');
  });

  it('refuses, as kha\'s own error, an inventory that mixes static pods with a load balancer that is not a master', () => {
    const inv = load(exampleText);
    const mixed: Inventory = { ...inv, lbs: [...inv.lbs.slice(0, 2), { ...inv.lbs[2]!, name: 'lb9', address: '10.77.0.29' }] };
    expect(() => topologyOf(mixed)).toThrow(InternalError);
  });

  it('has no packages and no service of keepalived or haproxy, and writes the manifests after the files they mount', () => {
    const t = topologyOf(load(exampleText));
    expect([...t.tasks.keys()]).toEqual(['directories', 'firewall', 'config', 'sysctl', 'handover', 'move-vip', 'manifests']);
    expect(t.services).toEqual([]);
    expect(t.files.map((f) => f.path)).toEqual([
      '/etc/keepalived/kha-check-haproxy.sh',
      '/etc/keepalived/kha-release-connections.sh',
      '/etc/keepalived/kha-keepalived-pod.sh',
      '/etc/keepalived/keepalived.conf',
      '/etc/haproxy/haproxy.cfg',
      '/etc/sysctl.d/90-kha.conf',
      '/etc/keepalived/kha-handover.sh',
      '/etc/systemd/system/kha-handover.service',
      '/etc/systemd/system/libpod-.scope.d/kha-handover.conf',
      '/etc/systemd/system/cri-containerd-.scope.d/kha-handover.conf',
      '/etc/systemd/system/crio-.scope.d/kha-handover.conf',
      '/etc/systemd/system/docker-.scope.d/kha-handover.conf',
      '/etc/systemd/system/docker.service.d/kha-handover.conf',
      '/etc/systemd/system/podman-restart.service.d/kha-handover.conf',
      '/etc/kubernetes/manifests/haproxy.yaml',
      '/etc/kubernetes/manifests/keepalived.yaml',
    ]);
  });

  it('follows manifests_dir', () => {
    const inv = load(exampleText.replace('manifests_dir: /etc/kubernetes/manifests', 'manifests_dir: /var/lib/kubelet/static'));
    expect(topologyOf(inv).files.filter((f) => f.path.endsWith('.yaml')).map((f) => f.path)).toEqual([
      '/var/lib/kubelet/static/haproxy.yaml',
      '/var/lib/kubelet/static/keepalived.yaml',
    ]);
  });
});

describe('the Pod manifests', () => {
  const inv = load(exampleText);
  const cp1 = renderAll(inv).find((h) => h.host === 'cp1')!;
  const manifest = (id: string) => cp1.files.find((f) => f.spec.id === id)!.content;

  it('pass the Kubernetes Pod schema', () => {
    expect(podSchemaProblems(manifest('keepalived.yaml'))).toEqual([]);
    expect(podSchemaProblems(manifest('haproxy.yaml'))).toEqual([]);
  });

  it('are refused by the schema when broken', () => {
    const broken = manifest('haproxy.yaml').replace('hostNetwork: true', 'hostNetwork: "yes"').replace('port: 8404', 'port: [8404]');
    const problems = podSchemaProblems(broken);
    expect(problems).toContain('/spec/hostNetwork must be boolean');
    expect(problems.some((p) => p.startsWith('/spec/containers/0/livenessProbe/httpGet/port'))).toBe(true);
    expect(podSchemaProblems('kind: Service\n')).toEqual(['not a Pod (kind: Pod)']);
  });

  it('give keepalived only the three capabilities, not privileged, and haproxy a liveness probe on its own health page', () => {
    expect(manifest('keepalived.yaml')).toMatch(/add:\n\s+- NET_ADMIN\n\s+- NET_BROADCAST\n\s+- NET_RAW\n/);
    expect(manifest('keepalived.yaml')).not.toMatch(/privileged/);
    expect(manifest('haproxy.yaml')).toMatch(/httpGet:\n\s+host: 127\.0\.0\.1\n\s+port: 8404\n\s+path: \/kha-health\n/);
    expect(manifest('haproxy.yaml')).not.toMatch(/healthz|6443/);
  });

  it('change when the configuration they mount changes, so the kubelet restarts the pod', () => {
    const hash = (text: string, id: string) => /kha\.io\/config-hash: (\w+)/.exec(renderAll(load(text)).find((h) => h.host === 'cp1')!.files.find((f) => f.spec.id === id)!.content)![1];
    const other = exampleText.replace('port: 8443', 'port: 9443');
    expect(hash(other, 'haproxy.yaml')).not.toBe(hash(exampleText, 'haproxy.yaml'));
    const otherId = exampleText.replace('cluster:', 'keepalived:\n  virtual_router_id: 77\ncluster:');
    expect(hash(otherId, 'keepalived.yaml')).not.toBe(hash(exampleText, 'keepalived.yaml'));
    expect(hash(otherId, 'haproxy.yaml')).toBe(hash(exampleText, 'haproxy.yaml'));
    // podman before 5.0 (Debian 12) refuses annotation values over 63 characters.
    expect(hash(exampleText, 'haproxy.yaml')).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("keepalived's wrapper, the first process of its container", () => {
  const spec = topologyOf(load(exampleText)).files.find((f) => f.id === 'keepalived-wrapper')!;

  /**
   * The rendered wrapper with a release script that logs its calls, an `ip`
   * that logs its arguments and shows the VIP on eth0 while a file says this
   * host holds it, and a keepalived stand-in, the holder, that takes the VIP
   * off and ends cleanly on SIGTERM.
   */
  function stage(marker?: string) {
    const { dir, bin, log, script } = stageDir('kha-wrapper-');
    if (marker !== undefined) writeFileSync(join(dir, 'marker'), marker);
    // Each signals itself first, as systemd's sweep of a stopping scope would: only an ignored SIGTERM lets it go on.
    const held = join(dir, 'held');
    writeFileSync(held, '');
    script(
      join(bin, 'ip'),
      `#!/bin/sh\nkill -TERM $$\necho "ip $*" >> ${log}\ncase "$*" in\n  '-4 -o addr show dev eth0') [ -e ${held} ] && echo '2: eth0    inet 10.77.0.10/24 scope global eth0' ;;\n  '-4 addr del 10.77.0.10/24 dev eth0') rm -f ${held} ;;\nesac\nexit 0\n`,
    );
    script(join(dir, 'release'), `#!/bin/sh\ntrap 'echo "release got TERM" >> ${log}; exit 0' TERM\nkill -TERM $$\necho "release $1 $SERVICE_RESULT" >> ${log}\n`);
    script(join(dir, 'keepalived'), `#!/bin/bash\necho "keepalived $* $(ls ${join(dir, 'run')} | wc -l) pid files" >> ${log}\ntrap 'echo "keepalived got TERM" >> ${log}; rm -f ${held}; exit 0' TERM\nwhile :; do sleep 0.05; done\n`);
    const inv = load(exampleText);
    const run = join(dir, 'run');
    mkdirSync(run);
    // Left by keepalived in the container's previous life.
    writeFileSync(join(run, 'keepalived.pid'), '7\n');
    const context = { ...(spec.context(inv, inv.lbs[0]!, 'eth0') as object), release: join(dir, 'release'), runDir: run, marker: join(dir, 'marker') };
    script(join(dir, 'wrapper'), renderSpec(spec, context).content);
    const child = spawn(join(dir, 'wrapper'), [join(dir, 'keepalived'), '--dont-fork'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const ended = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
    const logged = async (line: string) => {
      for (let i = 0; i < 100 && !lines().includes(line); i++) await new Promise((r) => setTimeout(r, 20));
    };
    const started = () => logged('keepalived --dont-fork 0 pid files');
    return { dir, child, ended, lines, logged, started, stderr: () => stderr };
  }

  const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

  it("waits without keepalived while kha-handover's marker holds this boot's id (the master is shutting down), and runs it once the marker goes", async () => {
    const w = stage(`${bootId()}\n`);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(w.lines()).toEqual([]);
      expect(w.stderr()).toContain('kha: this master is shutting down and handed its VIP over: keepalived waits for the next boot');
      // A cancelled shutdown: kha-handover takes the marker away.
      rmSync(join(w.dir, 'marker'));
      await w.started();
      expect(w.lines()).toEqual(['keepalived --dont-fork 0 pid files']);
      w.child.kill('SIGTERM');
      expect(await w.ended).toBe(0);
    } finally {
      rmSync(w.dir, { recursive: true, force: true });
    }
  });

  it('ends on SIGTERM while it waits, and a marker of an earlier boot holds nothing back', async () => {
    const waiting = stage(`${bootId()}\n`);
    try {
      await new Promise((r) => setTimeout(r, 300));
      waiting.child.kill('SIGTERM');
      expect(await waiting.ended).toBe(0);
      expect(waiting.lines()).toEqual([]);
    } finally {
      rmSync(waiting.dir, { recursive: true, force: true });
    }
    const rebooted = stage('00000000-0000-0000-0000-000000000000\n');
    try {
      await rebooted.started();
      expect(rebooted.lines()).toEqual(['keepalived --dont-fork 0 pid files']);
      rebooted.child.kill('SIGTERM');
      expect(await rebooted.ended).toBe(0);
    } finally {
      rmSync(rebooted.dir, { recursive: true, force: true });
    }
  });

  it('passes SIGTERM to keepalived and releases as soon as keepalived took the VIP off, then takes the VIP off and runs the release as after a clean stop', async () => {
    const w = stage();
    try {
      await w.started();
      w.child.kill('SIGTERM');
      expect(await w.ended).toBe(0);
      // In a container the background release dies with its first process; here it lives on and logs.
      await w.logged('release leaving ');
      const lines = w.lines();
      // The stale pid file is gone before keepalived starts.
      expect(lines[0]).toBe('keepalived --dont-fork 0 pid files');
      // On the signal, keepalived told, and a release of its own once keepalived has taken the VIP off (not before), alive
      // through SIGTERM; after keepalived, the VIP off and the release as after a clean stop.
      const acts = lines.filter((l) => l !== 'ip -4 -o addr show dev eth0');
      expect(acts.slice(0, 2)).toEqual([lines[0], 'keepalived got TERM']);
      expect([...acts.slice(2)].sort()).toEqual(['ip -4 addr del 10.77.0.10/24 dev eth0', 'release leaving ', 'release stopped success'].sort());
      expect(acts.indexOf('release stopped success')).toBeGreaterThan(acts.indexOf('ip -4 addr del 10.77.0.10/24 dev eth0'));
      expect(w.stderr()).toContain('kha: keepalived ended (exit 0): 10.77.0.10/24 taken off eth0');
    } finally {
      rmSync(w.dir, { recursive: true, force: true });
    }
  });

  it('outlives a killed keepalived: the VIP off, the release told keepalived did not stop cleanly, and the container ends as keepalived did', async () => {
    const w = stage();
    try {
      await w.started();
      const pids = spawnSync('pgrep', ['-P', String(w.child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number);
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      expect(await w.ended).toBe(137);
      expect(w.lines().slice(1)).toEqual(['ip -4 addr del 10.77.0.10/24 dev eth0', 'release stopped signal']);
    } finally {
      rmSync(w.dir, { recursive: true, force: true });
    }
  });

  it("is refused in an image without ip, and installed with a warning in one without ss", () => {
    const dir = mkdtempSync(join(tmpdir(), 'kha-wrapper-image-'));
    try {
      const file = join(dir, 'wrapper');
      writeFileSync(file, '#!/bin/bash\ntrue\n');
      const bash = spawnSync('sh', ['-c', 'command -v bash'], { encoding: 'utf8' }).stdout.trim();
      const image = (tools: string[]) => {
        const bin = mkdtempSync(join(dir, 'bin-'));
        for (const t of ['bash', ...tools]) symlinkSync(t === 'bash' ? bash : '/bin/true', join(bin, t));
        return spawnSync(bash, ['-c', WRAPPER_IN_IMAGE, 'sh', file], { encoding: 'utf8', env: { PATH: bin } });
      };
      const noIp = image(['ss', 'setsid']);
      expect(noIp.status).toBe(1);
      expect(noIp.stderr).toContain('this image has no ip (iproute2)');
      const noSs = image(['ip', 'setsid']);
      expect(noSs.status).toBe(0);
      expect(uncheckedReasons(noSs.stdout)).toEqual(['checked, but this image has no ss: connections held through the VIP are not reset when it leaves this host']);
      const whole = image(['ip', 'ss', 'setsid']);
      expect([whole.status, whole.stdout]).toEqual([0, '']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is what keepalived's container runs keepalived under, and keepalived.conf runs the release script", () => {
    const cp1 = renderAll(load(exampleText)).find((h) => h.host === 'cp1')!;
    const file = (id: string) => cp1.files.find((f) => f.spec.id === id)!.content;
    expect(file('keepalived.yaml')).toMatch(/command:\n\s+- \/etc\/keepalived\/kha-keepalived-pod\.sh\n\s+- keepalived\n/);
    expect(file('keepalived.conf')).toContain('notify_stop "/etc/keepalived/kha-release-connections.sh leaving" root');
    // Both containers end together at shutdown: the holder keeps the VIP on lo all along, as on hosts.
    expect(file('keepalived.conf')).toContain('notify_master "/etc/keepalived/kha-release-connections.sh master" root');
    expect(file('sysctl')).toContain('net.ipv4.conf.all.arp_ignore = 1');
  });

  it("stops keepalived's container as the kubelet does, only through kha's wrapper, and waits for the kubelet to start it again", () => {
    expect(KEEPALIVED_POD.stop[1]).toContain("grep -qF /etc/keepalived/kha-keepalived-pod.sh");
    expect(KEEPALIVED_POD.stop[1]).toMatch(/kill -TERM "\$p"$/);
    expect(KEEPALIVED_POD.kill[1]).toBe('pkill -KILL -x keepalived');
    expect(KEEPALIVED_POD.back('cp1')).toMatchObject({ host: 'cp1', healed: 'pgrep -x keepalived >/dev/null' });
  });
});

describe('validating through the image', () => {
  it('names images fully, as ctr and podman need them', () => {
    expect(qualifiedImage('haproxy:2.8')).toBe('docker.io/library/haproxy:2.8');
    expect(qualifiedImage('kha/keepalived:2.2')).toBe('docker.io/kha/keepalived:2.2');
    expect(qualifiedImage('registry.example:5000/kha/keepalived:2.2')).toBe('registry.example:5000/kha/keepalived:2.2');
    expect(qualifiedImage('localhost/keepalived:1')).toBe('localhost/keepalived:1');
  });

  it('tries podman, nerdctl, ctr in the kubelet\'s namespace, then docker, in that order', () => {
    const text = inImageValidate('haproxy:2.8', 'haproxy', asPositional(HAPROXY_VALIDATE));
    const at = (s: string) => text.indexOf(s);
    expect(at('command -v podman')).toBeGreaterThan(-1);
    expect(at('command -v podman')).toBeLessThan(at('command -v nerdctl'));
    expect(at('command -v nerdctl')).toBeLessThan(at('command -v ctr'));
    expect(at('command -v ctr')).toBeLessThan(at('command -v docker'));
    expect(text).toContain('exec ctr -n k8s.io run --rm --net-host --mount "type=bind,src=$d,dst=$d,options=rbind:rw" "$img" "kha-validate-$$" sh -c "$inner" sh "$f"');
    expect(text).toContain('img=docker.io/library/haproxy:2.8');
    expect(text).toContain(`inner='haproxy -c -q -f "$1"'`);
  });

  describe('run in a shell with stand-in tools', () => {
    const tools = ['sh', 'dirname', 'hostname', 'tail', 'grep', 'cat', 'printf'];
    const setup = (stubs: Record<string, string>) => {
      const dir = mkdtempSync(join(tmpdir(), 'kha-runtime-'));
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      for (const t of tools) {
        const found = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
        if (found.startsWith('/')) symlinkSync(found, join(bin, t));
      }
      for (const [name, body] of Object.entries(stubs)) {
        writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${join(dir, 'calls')}\n${body}\n`);
        chmodSync(join(bin, name), 0o755);
      }
      writeFileSync(join(dir, 'haproxy.cfg'), 'global\n');
      return { dir, bin };
    };
    const run = (env: { dir: string; bin: string }) => {
      const cmd = validateCommand(inImageValidate('haproxy:2.8', 'haproxy', asPositional(HAPROXY_VALIDATE)), join(env.dir, 'haproxy.cfg'));
      const r = spawnSync(join(env.bin, 'sh'), ['-c', cmd], { encoding: 'utf8', env: { PATH: env.bin } });
      let calls = '';
      try {
        calls = readFileSync(join(env.dir, 'calls'), 'utf8');
      } catch {
        // no tool was called
      }
      rmSync(env.dir, { recursive: true, force: true });
      return { ...r, calls };
    };

    it('goes in unchecked, and says so, with no runtime and no haproxy on the host', () => {
      const r = run(setup({}));
      expect(r.status).toBe(0);
      expect(uncheckedReasons(r.stdout)).toEqual([expect.stringMatching(/^not checked: no container runtime on \S+ \(podman, nerdctl, ctr or docker\), and no haproxy of its own$/)]);
    });

    it('falls back to the host\'s haproxy, and says so', () => {
      const r = run(setup({ haproxy: 'exit 0' }));
      expect(r.status).toBe(0);
      expect(uncheckedReasons(r.stdout)[0]).toMatch(/^checked with this host's own haproxy, not the image's/);
      expect(r.calls).toMatch(/^haproxy -c -q -f .*haproxy\.cfg$/m);
    });

    it('runs the image\'s haproxy through ctr when containerd answers, pulling the image first', () => {
      const r = run(setup({ ctr: 'case "$*" in *"images ls"*) exit 0 ;; esac; exit 0' }));
      expect(r.status).toBe(0);
      expect(r.calls.split('\n').filter(Boolean)).toEqual([
        'ctr -n k8s.io version',
        'ctr -n k8s.io images ls -q',
        'ctr -n k8s.io images pull docker.io/library/haproxy:2.8',
        expect.stringMatching(/^ctr -n k8s\.io run --rm --net-host --mount type=bind,src=\S+,dst=\S+,options=rbind:rw docker\.io\/library\/haproxy:2\.8 kha-validate-\d+ sh -c haproxy -c -q -f "\$1" sh \S+haproxy\.cfg$/),
      ]);
    });

    it('fails with how to preload the image when the pull fails', () => {
      const r = run(setup({ podman: 'case "$1" in image) exit 1 ;; pull) echo "dial tcp: no route to host" >&2; exit 125 ;; esac; exit 0' }));
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/the image docker\.io\/library\/haproxy:2\.8 is not on \S+ and podman pull failed: the kubelet could not start the pod either\. Preload it \(ctr -n k8s\.io images import FILE\.tar, or podman load -i FILE\.tar, on each master\)/);
      expect(r.stderr).toContain('no route to host');
      expect(r.calls).not.toMatch(/podman run/);
    });
  });

  it('apply reports a file its validator could not check, and installs it', async () => {
    const change: Change = {
      kind: 'file.write',
      path: '/etc/haproxy/haproxy.cfg',
      mode: 0o644,
      content: 'global\n',
      previous: null,
      modeOnly: false,
      secret: false,
      service: 'haproxy',
      validate: 'check {file}',
    };
    const s = new FakeSession('cp1', [
      { command: 'mkdir -p /etc/haproxy' },
      { command: /^check /, result: { stdout: 'kha-unchecked: not checked: no container runtime on cp1\n' } },
      { command: "{ [ ! -f /var/lib/kha/haproxy.loaded ] || sed -i '1c written, not loaded' /var/lib/kha/haproxy.loaded; } && mv -f /etc/haproxy/.kha-new.haproxy.cfg /etc/haproxy/haproxy.cfg" },
    ]);
    const said: string[] = [];
    await applyChange(s, { ...change }, new Rollback(), (path, reason) => said.push(`${path}: ${reason}`));
    s.assertDone();
    expect(said).toEqual(['/etc/haproxy/haproxy.cfg: not checked: no container runtime on cp1']);
  });
});

describe('kubeadm', () => {
  it('ignores the manifests directory check in static-pods mode, in the configuration and the join lines', () => {
    const h = kubeadmHandoff(load(exampleText));
    expect(h.ignorePreflightErrors).toEqual([MANIFESTS_DIR_CHECK]);
    expect(h.config).toContain('nodeRegistration:\n');
    expect(h.config).toContain(`  ignorePreflightErrors:\n    - DirAvailable--etc-kubernetes-manifests\n---\n`);
    for (const j of h.join) expect(j.command).toMatch(/ --ignore-preflight-errors=DirAvailable--etc-kubernetes-manifests$/);
    expect(handoffSteps(h, 'kubeadm-config.yaml').join('\n')).toContain('--ignore-preflight-errors=DirAvailable--etc-kubernetes-manifests');
  });

  it('says nothing of it otherwise', () => {
    const h = kubeadmHandoff(load(exampleText.replace(/^static_pods:[\s\S]*?(?=^lb:)/m, '')));
    expect(h.ignorePreflightErrors).toEqual([]);
    expect(h.config).not.toContain('ignorePreflightErrors');
    for (const j of h.join) expect(j.command).not.toContain('ignore-preflight');
  });
});

describe('whether the pods run', () => {
  const status = (kubelet: string, ka: string, hp: string, monitor: string) => `kubelet ${kubelet}\nkeepalived ${ka}\nhaproxy ${hp}\nmonitor ${monitor}\n`;

  it('reads a process started after its manifest as running that manifest', () => {
    expect(parsePodStatus(status('yes', 'running 1000 999', 'running 1000 1001', 'yes'))).toEqual({
      kubelet: true,
      keepalived: { running: true, current: true, startedAfterS: 1 },
      haproxy: { running: true, current: false, startedAfterS: -1 },
      monitor: true,
    });
    expect(parsePodStatus(status('no', 'absent 0 1000', 'absent 0 0', 'no'))).toEqual({
      kubelet: false,
      keepalived: { running: false, current: false },
      haproxy: { running: false, current: false },
      monitor: false,
    });
  });

  it('ends apply before any kubelet runs with the files written, not a failure and no claim that the endpoint works', async () => {
    const inv = load(exampleText);
    const sessions = new Map(
      inv.lbs.map((lb) => [lb.name, new FakeSession(lb.name, [{ command: /kubelet=no/, result: { stdout: status('no', 'absent 0 1000', 'absent 0 1000', 'no') } }])]),
    );
    const view: FinalView = { inv, sessions, facts: new Map(), scope: new Set(inv.lbs.map((lb) => lb.name)) };
    const progress: string[] = [];
    const check = await topologyOf(inv).finalChecks.get('pods-serve-the-vip')!(view, 'verify', (t) => progress.push(t));
    expect(check.problems).toEqual([]);
    expect(check.podsPending).toEqual(['cp1', 'cp2', 'cp3']);
    expect(progress).toEqual(['written on cp1, cp2, cp3; the kubelet starts keepalived and haproxy when it runs, e.g. with kubeadm init']);
    const said = formatEndpoint(inv, check).join('\n');
    expect(said).toContain('the kubelet starts keepalived and haproxy when it runs, e.g. with kubeadm init');
    expect(said).not.toMatch(/endpoint is up|answers/);
  });
});

describe('drills and status on static pods', () => {
  const inv = load(exampleText);
  const topology = topologyOf(inv);

  it("run keepalived's drills on its pod, those that break the network as on the masters, and say why each of the others does not apply", () => {
    // The drills from a node break the network too (an iptables rule on a master or a node): they run where a host has the local proxy.
    expect(topology.drills.map((d) => d.name)).toEqual(['keepalived-stop', 'keepalived-kill', 'backend-down', 'partition', 'reboot', 'node-apiserver-stop', 'node-master-crash']);
    expect(topology.drills.slice(0, 2)).toEqual([POD_KEEPALIVED_STOP, POD_KEEPALIVED_KILL]);
    expect([...topology.drillsNotApplicable.keys()]).toEqual(['haproxy-down', 'failback']);
    for (const why of topology.drillsNotApplicable.values()) expect(why).toMatch(/kubelet/);
    // Every drill is either run or explained, never silently left out.
    expect([...topology.drills.map((d) => d.name), ...topology.drillsNotApplicable.keys()].sort()).toEqual([...DRILL_NAMES].sort());
  });

  it('verify-failover refuses a drill that does not apply, with why, before reaching any host (exit 2)', async () => {
    const r = await runKha(['verify-failover', example, '--drill', 'failback']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--drill failback does not apply to keepalived and haproxy as static pods: it stops keepalived and starts it later: the kubelet, not systemd, runs');
  });

  it("status reads the pods' state: active only when each runs its current manifest", async () => {
    expect(podState({ running: true, current: true }, true)).toBe('active');
    expect(podState({ running: true, current: false }, true)).toBe('runs an older manifest');
    expect(podState({ running: false, current: false }, true)).toBe('not running');
    expect(podState({ running: false, current: false }, false)).toBe('not running (no kubelet)');
  });
});
