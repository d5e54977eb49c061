// The lab, for real: boots 2 load balancers and 3 masters with systemd-nspawn,
// reaches them only from the controller namespace with strict host keys,
// installs keepalived and haproxy from the offline repository, injects every
// fault kind and checks its effect, and takes the lab down leaving nothing.
// Needs root: without it this fails (CI runs as root), it never skips.
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectFault, requireLab, type FaultKind } from '../../src/lab/faults.js';
import { labDown, labUp, leftovers, type UpReport } from '../../src/lab/lifecycle.js';
import { mountsUnder } from '../../src/lab/mounts.js';
import { run, runInNetns, sleep } from '../../src/lab/run.js';
import { CONTROLLER_NS, labDirs, labFiles, type MachineSpec } from '../../src/lab/state.js';
import { labStatus } from '../../src/lab/status.js';

const env = process.env;
const dirs = labDirs(env);
const files = labFiles(dirs);
const VIP = '10.77.0.10';
let up: UpReport;

function machine(name: string): MachineSpec {
  const m = up.machines.find((x) => x.name === name);
  if (!m) throw new Error(`no machine ${name}`);
  return m;
}

function sshOpts(knownHosts = files.knownHosts): string[] {
  return [
    '-i', files.key,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'ConnectTimeout=2',
  ];
}

/** The real ssh client, from the controller namespace, strict host key checking against the lab known_hosts. */
function ssh(name: string, command: string, allowFail = false) {
  return runInNetns(CONTROLLER_NS, 'ssh', [...sshOpts(), `root@${machine(name).address}`, command], { allowFail, timeoutMs: 300_000 });
}

function curl(url: string, extra: string[] = []) {
  return runInNetns(CONTROLLER_NS, 'curl', ['-sS', '--max-time', '3', '--cacert', files.caCert, ...extra, url], { allowFail: true, timeoutMs: 10_000 });
}

async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
}

async function fault(kind: FaultKind, host: string) {
  const r = await injectFault(env, kind, host);
  expect(r.injectedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  expect(Math.abs(Date.now() - Date.parse(r.injectedAt))).toBeLessThan(60_000);
  return r;
}

async function status() {
  return labStatus(env, await requireLab(env), VIP);
}

async function reachable(name: string): Promise<boolean> {
  return (await ssh(name, 'true', true)).code === 0;
}

async function pids(name: string, comm: string): Promise<string> {
  return (await ssh(name, `pidof ${comm} || true`)).stdout.trim();
}

beforeAll(async () => {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('the lab tests need root (they create network namespaces and boot systemd-nspawn machines): run them as root');
  }
  await labDown(env, () => undefined);
  up = await labUp({ lbs: 2, masters: 3, workers: 0 }, env, (l) => console.log(l));
  console.log(`lab up in ${up.seconds.toFixed(1)} s; boot to ssh: ${up.machines.map((m) => `${m.name} ${m.bootToSshSeconds.toFixed(1)} s`).join(', ')}`);
});

afterAll(async () => {
  await labDown(env, () => undefined);
});

describe('kha lab', () => {
  it('writes a hosts.yaml for the lab and a known_hosts made from pre-generated host keys', async () => {
    expect(up.hostsYaml).toBe(files.hostsYaml);
    const text = await readFile(files.hostsYaml, 'utf8');
    expect(text).toContain(`vip: ${VIP}/24`);
    expect(text).toContain(`netns: ${CONTROLLER_NS}`);
    expect(text).toContain(`identity_file: ${files.key}`);
    expect(text).toContain(`known_hosts: ${files.knownHosts}`);
    for (const m of up.machines) expect(text).toContain(`address: ${m.address}`);
    const known = (await readFile(files.knownHosts, 'utf8')).trim().split('\n');
    expect(known).toHaveLength(5);
    for (const m of up.machines) expect(known.some((l) => l.startsWith(`${m.address},${m.name} ssh-ed25519 `))).toBe(true);
  });

  it('reaches every machine over SSH with strict host key checking, and refuses an unknown host key', async () => {
    for (const m of up.machines) {
      const r = await ssh(m.name, 'hostname; systemctl is-system-running || true; cat /proc/1/comm');
      expect(r.stdout.split('\n').slice(0, 3)).toEqual([m.name, 'running', 'systemd']);
    }
    const empty = join(await mkdtemp(join(tmpdir(), 'kha-lab-test-')), 'known_hosts');
    await writeFile(empty, '');
    const r = await runInNetns(CONTROLLER_NS, 'ssh', [...sshOpts(empty), `root@${machine('lb1').address}`, 'true'], { allowFail: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Host key verification failed|No ED25519 host key is known/);
  });

  it('keeps every lab address inside its own namespaces and routes nothing out', async () => {
    const rootAddrs = await run('ip', ['-o', 'addr']);
    expect(rootAddrs.stdout).not.toContain('10.77.0.');
    const rootLinks = await run('ip', ['-o', 'link']);
    expect(rootLinks.stdout).not.toContain('kha-lab');
    const routes = await ssh('lb1', 'ip route; ip -6 route 2>/dev/null || true');
    expect(routes.stdout).not.toMatch(/default/);
    const ctl = await runInNetns(CONTROLLER_NS, 'ip', ['route']);
    expect(ctl.stdout).not.toMatch(/default/);
  });

  it('serves a kube-apiserver stand-in over TLS with the lab CA on every master', async () => {
    for (const m of up.machines.filter((x) => x.role === 'master')) {
      for (const path of ['/healthz', '/readyz', '/livez']) {
        const r = await curl(`https://${m.address}:6443${path}`);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe('ok');
      }
      const v = await curl(`https://${m.address}:6443/version`, ['-i']);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout).toMatch(new RegExp(`^x-kha-lab-master: ${m.name}\\r?$`, 'im'));
      const body = JSON.parse(v.stdout.slice(v.stdout.indexOf('{'))) as { gitVersion?: string };
      expect(body.gitVersion).toMatch(/^v1\./);
    }
    // SANs hold only the master's own address: the VIP (or another name) does not verify.
    const cert = await run('openssl', ['x509', '-in', join(files.certs, 'm1.crt'), '-noout', '-ext', 'subjectAltName']);
    expect(cert.stdout).toContain('IP Address:10.77.0.21');
    expect(cert.stdout).not.toContain('10.77.0.10');
    const wrong = await curl('https://kubeapi.lab:6443/healthz', ['--resolve', 'kubeapi.lab:6443:10.77.0.21']);
    expect(wrong.code).not.toBe(0);
  });

  it('the stand-in survives connect-and-close checks and silent clients without blocking anyone', async () => {
    // From lb1: 40 silent TCP clients held open, 20 that connect and close, then a real request.
    const script = [
      'import socket, subprocess, time',
      'held = [socket.create_connection(("10.77.0.21", 6443)) for _ in range(40)]',
      'for _ in range(20): socket.create_connection(("10.77.0.21", 6443)).close()',
      'slow = socket.create_connection(("10.77.0.21", 6443)); slow.send(b"\\x16\\x03")',
      't = time.time()',
      'r = subprocess.run(["curl", "-sk", "--max-time", "3", "https://10.77.0.21:6443/readyz"], capture_output=True, text=True)',
      'print(r.stdout, round(time.time() - t, 3))',
    ].join('\n');
    const r = await ssh('lb1', `python3 -c '${script}'`);
    const [body, seconds] = r.stdout.trim().split(' ');
    expect(body).toBe('ok');
    expect(Number(seconds)).toBeLessThan(1.5);
    expect((await curl('https://10.77.0.21:6443/healthz')).stdout).toBe('ok');
  });

  it('installs keepalived and haproxy from the offline repository, with no network out', async () => {
    for (const name of ['lb1', 'lb2']) {
      const before = await ssh(name, 'dpkg -s keepalived haproxy', true);
      expect(before.code).not.toBe(0);
    }
    const sources = await ssh('lb1', 'cat /etc/apt/sources.list; ls /etc/apt/sources.list.d | wc -l');
    expect(sources.stdout).toBe('deb [trusted=yes] file:/srv/kha-lab-apt ./\n0\n');
    const ro = await ssh('lb1', 'touch /srv/kha-lab-apt/x', true);
    expect(ro.code).not.toBe(0);
    const r = await ssh('lb1', 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q keepalived haproxy');
    expect(r.stdout).toContain('Setting up keepalived');
    expect(r.stdout).toContain('Setting up haproxy');
    const after = await ssh('lb1', "dpkg-query -W -f '${Status}\\n' keepalived haproxy");
    expect(after.stdout).toBe('install ok installed\ninstall ok installed\n');
    await ssh(
      'lb1',
      'printf "%s\\n" "vrrp_instance kha_lab {" "  state MASTER" "  interface eth0" "  virtual_router_id 51" "  priority 150" "  advert_int 1" ' +
        `"  virtual_ipaddress {" "    ${VIP}/24" "  }" "}" > /etc/keepalived/keepalived.conf && systemctl restart keepalived haproxy`,
    );
    await until('lb1 holds the VIP', 15_000, async () => (await status()).holders.join() === 'lb1');
  });

  it('haproxy-kill: SIGKILLs haproxy; Debian\'s unit starts a new one', async () => {
    const before = await pids('lb1', 'haproxy');
    expect(before).not.toBe('');
    await fault('haproxy-kill', 'lb1');
    await until('a new haproxy', 20_000, async () => {
      const now = await pids('lb1', 'haproxy');
      return now !== '' && now.split(' ').every((p) => !before.split(' ').includes(p));
    });
  });

  it('keepalived-kill: SIGKILLs keepalived and the VIP stays behind on the interface', async () => {
    expect(await pids('lb1', 'keepalived')).not.toBe('');
    await fault('keepalived-kill', 'lb1');
    await until('no keepalived', 5_000, async () => (await pids('lb1', 'keepalived')) === '');
    expect((await status()).holders).toEqual(['lb1']);
    await ssh('lb1', `systemctl reset-failed keepalived; ip addr del ${VIP}/24 dev eth0; systemctl start keepalived`);
    await until('lb1 holds the VIP again', 15_000, async () => (await status()).holders.join() === 'lb1');
  });

  it('keepalived-stop: stops the unit, which releases the VIP', async () => {
    await fault('keepalived-stop', 'lb1');
    const r = await ssh('lb1', 'systemctl is-active keepalived', true);
    expect(r.stdout.trim()).toBe('inactive');
    await until('nobody holds the VIP', 5_000, async () => (await status()).holders.length === 0);
  });

  it('apiserver-stop and apiserver-start', async () => {
    await fault('apiserver-stop', 'm2');
    const down = await curl('https://10.77.0.22:6443/readyz');
    expect(down.code).not.toBe(0);
    expect((await status()).machines.find((m) => m.name === 'm2')?.services).toEqual({ 'kha-apiserver': 'inactive' });
    expect((await curl('https://10.77.0.21:6443/readyz')).stdout).toBe('ok');
    await fault('apiserver-start', 'm2');
    await until('m2 answers again', 10_000, async () => (await curl('https://10.77.0.22:6443/readyz')).stdout === 'ok');
  });

  it('link-down and link-up: the machine\'s own eth0', async () => {
    await fault('link-down', 'lb2');
    const s = await status();
    expect(s.machines.find((m) => m.name === 'lb2')?.link).toBe('down');
    expect(await reachable('lb2')).toBe(false);
    await fault('link-up', 'lb2');
    expect((await status()).machines.find((m) => m.name === 'lb2')?.link).toBe('up');
    await until('lb2 reachable', 10_000, () => reachable('lb2'));
  });

  it('isolate and rejoin: the holder\'s bridge port leaves while its own link stays up, and both hold the VIP (split brain)', async () => {
    // The package lists are ready from `up`: no apt-get update needed.
    await ssh(
      'lb2',
      'DEBIAN_FRONTEND=noninteractive apt-get install -y -q keepalived >/dev/null && ' +
        'printf "%s\\n" "vrrp_instance kha_lab {" "  state BACKUP" "  interface eth0" "  virtual_router_id 51" "  priority 100" "  advert_int 1" ' +
        `"  virtual_ipaddress {" "    ${VIP}/24" "  }" "}" > /etc/keepalived/keepalived.conf && systemctl restart keepalived`,
    );
    await ssh('lb1', 'systemctl start keepalived');
    await until('lb1 alone holds the VIP', 20_000, async () => (await status()).holders.join() === 'lb1');
    await fault('isolate', 'lb1');
    expect((await status()).machines.find((m) => m.name === 'lb1')?.link).toBe('isolated');
    const inside = await run('ip', ['-n', 'kha-lab-lb1', '-o', 'link', 'show', 'eth0']);
    expect(inside.stdout).toMatch(/[<,]UP[,>]/);
    expect(inside.stdout).toContain('state UP');
    expect(await reachable('lb1')).toBe(false);
    await until('lb1 and lb2 both hold the VIP', 15_000, async () => (await status()).holders.join() === 'lb1,lb2');
    await fault('rejoin', 'lb1');
    expect((await status()).machines.find((m) => m.name === 'lb1')?.link).toBe('up');
    await until('lb1 reachable', 10_000, () => reachable('lb1'));
    await until('one holder again', 15_000, async () => (await status()).holders.join() === 'lb1');
  });

  it('crash: SIGKILL of the machine\'s init; poweron boots it again with its state', async () => {
    await fault('crash', 'm3');
    const s = await status();
    expect(s.machines.find((m) => m.name === 'm3')?.state).toBe('stopped');
    expect(await reachable('m3')).toBe(false);
    await fault('poweron', 'm3');
    expect(await reachable('m3')).toBe(true);
    await until('m3 apiserver back', 20_000, async () => (await curl('https://10.77.0.23:6443/readyz')).stdout === 'ok');
  });

  it('poweroff: a clean shutdown; poweron again', async () => {
    await ssh('m3', 'echo kept > /root/marker && sync');
    await fault('poweroff', 'm3');
    expect((await status()).machines.find((m) => m.name === 'm3')?.state).toBe('stopped');
    await expect(injectFault(env, 'poweroff', 'm3')).rejects.toThrow(/not running/);
    await fault('poweron', 'm3');
    expect((await ssh('m3', 'cat /root/marker')).stdout).toBe('kept\n');
  });

  it('reports memory per machine', async () => {
    const s = await status();
    for (const m of s.machines) {
      expect(m.state).toBe('running');
      expect(m.memoryMiB).toBeGreaterThan(1);
      expect(m.memoryMiB).toBeLessThan(300);
    }
  });

  it('the CLI: lab status (text and --json), lab fault with its injection time, lab exec in the controller namespace', async () => {
    const { main } = await import('../../src/cli.js');
    const cli = async (...args: string[]) => {
      let out = '';
      let err = '';
      const code = await main(['node', 'kha', ...args], { stdout: (t) => void (out += t), stderr: (t) => void (err += t) }, env);
      return { code, out, err };
    };
    const st = await cli('lab', 'status', '--json');
    expect(st.code, st.err).toBe(0);
    const parsed = JSON.parse(st.out) as { vip: string; machines: Array<{ name: string; state: string; link: string; memoryMiB: number }> };
    expect(parsed.vip).toBe(VIP);
    expect(parsed.machines.map((m) => m.name)).toEqual(['lb1', 'lb2', 'm1', 'm2', 'm3']);
    const text = await cli('lab', 'status');
    expect(text.out).toMatch(/^lb1\s+lb\s+10\.77\.0\.11\s+running\s+up\s+[\d.]+ MiB/m);
    expect(text.out).toContain(`VIP ${VIP}: held by lb1`);
    const f = await cli('lab', 'fault', 'apiserver-stop', 'm1');
    expect(f.code, f.err).toBe(0);
    expect(f.out).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z apiserver-stop m1: /);
    expect((await cli('lab', 'fault', 'apiserver-start', 'm1')).code).toBe(0);
    await until('m1 answers through kha lab exec', 10_000, async () => {
      const r = await cli('lab', 'exec', '--', 'curl', '-s', '--cacert', files.caCert, 'https://10.77.0.21:6443/healthz');
      return r.code === 0 && r.out === 'ok';
    });
    expect((await cli('lab', 'exec', '--', 'false')).code).toBe(1);
    const bad = await cli('lab', 'fault', 'bogus', 'm1');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown fault');
    expect((await cli('lab', 'fault', 'crash', 'nosuch')).code).toBe(2);
    expect((await cli('lab', 'up', '--lbs', '6')).code).toBe(2);
  });

  it('down removes everything, and a second down is fine', async () => {
    await labDown(env, () => undefined);
    expect(await leftovers(env)).toEqual([]);
    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain('kha-lab');
    expect(await mountsUnder(dirs.lab)).toEqual([]);
    expect((await readFile('/proc/self/mounts', 'utf8')).includes(dirs.lab)).toBe(false);
    expect(existsSync(dirs.lab)).toBe(false);
    await labDown(env, () => undefined);
    expect(await leftovers(env)).toEqual([]);
  });
});
