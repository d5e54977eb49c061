import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { labDown, labUp } from '../../src/lab/lifecycle.js';
import { machineExec } from '../../src/lab/machine.js';
import { labFiles, labDirs, CONTROLLER_NS } from '../../src/lab/state.js';
import { packageRoot } from '../../src/paths.js';
import { controllerLoop, NOT_LO } from './harness.js';

// kha apply end to end on real machines: 2 load balancers (one with
// firewalld running) and 3 masters with apiserver stand-ins, booted by the
// lab. Everything kha prints is kept, to prove no secret ever appears in it.

const KHA = join(packageRoot, 'bin', 'kha.js');
const SECRET = 'Kh4pw-x9';
const env = { ...process.env, CI: '1', KHA_VRRP_PASS: SECRET };
const printed: string[] = [];
let hostsYaml = '';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kha(args: string[], file = hostsYaml): Run {
  const r = spawnSync(process.execPath, [KHA, ...args, file], { env, encoding: 'utf8', timeout: 600_000 });
  printed.push(r.stdout, r.stderr);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A command on a lab machine, over SSH from the controller namespace with the lab's key. */
function onHost(host: string, command: string): string {
  const files = labFiles(labDirs(process.env));
  const address = host.startsWith('lb') ? `10.77.0.${10 + Number(host.slice(2))}` : `10.77.0.${20 + Number(host.slice(1))}`;
  const r = spawnSync(
    'ip',
    ['netns', 'exec', CONTROLLER_NS, 'ssh', '-i', files.key, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${files.knownHosts}`, `root@${address}`, command],
    { encoding: 'utf8', timeout: 300_000 },
  );
  if (r.status !== 0) throw new Error(`${host}: ${command}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function serviceStamp(host: string): string {
  return onHost(host, 'for s in keepalived haproxy; do systemctl show -p MainPID,ActiveEnterTimestampMonotonic --value $s | tr "\\n" " "; done');
}

/** Which masters answer through the VIP, by the stand-in's header, over fresh connections. */
function mastersThroughVip(requests: number): Set<string> {
  const files = labFiles(labDirs(process.env));
  const seen = new Set<string>();
  for (let i = 0; i < requests; i++) {
    const r = spawnSync(
      'ip',
      ['netns', 'exec', CONTROLLER_NS, 'curl', '-sS', '--max-time', '3', '--cacert', files.caCert, '-k', '-D', '-', '-o', '/dev/null', 'https://10.77.0.10:6443/healthz'],
      { encoding: 'utf8' },
    );
    const m = /x-kha-lab-master:\s*(\S+)/i.exec(r.stdout);
    if (m?.[1]) seen.add(m[1]);
  }
  return seen;
}

function vipHolders(): string[] {
  return ['lb1', 'lb2'].filter((h) => onHost(h, NOT_LO).includes(' 10.77.0.10/'));
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the lab tests need root (systemd-nspawn, network namespaces)');
  await labDown(process.env, () => undefined);
  const up = await labUp({ lbs: 2, masters: 3, workers: 0 }, process.env, () => undefined);
  hostsYaml = up.hostsYaml;
  // One load balancer with firewalld running, as on a RHEL-family host.
  onHost('lb2', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q firewalld >/dev/null && systemctl enable --now firewalld && firewall-cmd --state');
}, 900_000);

afterAll(async () => {
  await labDown(process.env, () => undefined);
}, 300_000);

describe('kha apply on the lab', () => {
  it('preflight stops before any change, naming the host and the check', () => {
    const badIface = hostsYaml.replace(/\.yaml$/, '-eth9.yaml');
    writeFileSync(badIface, readFileSync(hostsYaml, 'utf8').replace('    interface: eth0', '    interface: eth9'));
    const r = kha(['apply', '--yes'], badIface);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('lb1 [interface]: interface eth9 does not exist');
    expect(r.stderr).toContain('nothing was changed on any host');
    const emptyKnown = hostsYaml.replace(/\.yaml$/, '-unknown-keys.yaml');
    writeFileSync(`${emptyKnown}.known`, '');
    writeFileSync(emptyKnown, readFileSync(hostsYaml, 'utf8').replace(/known_hosts: .*/, `known_hosts: ${emptyKnown}.known`));
    const k = kha(['apply', '--yes'], emptyKnown);
    expect(k.code).toBe(1);
    expect(k.stderr).toMatch(/lb1 \[ssh\]: .*SHA256:/);
    expect(k.stderr).toMatch(/lb2 \[ssh\]: /);
    for (const h of ['lb1', 'lb2']) expect(onHost(h, 'command -v keepalived haproxy || echo none').trim()).toBe('none');
  });

  it('preflight finds VRRP dropped on its way to a load balancer, names that direction, and passes once it gets through', () => {
    // firewalld on lb2 rejects VRRP too until kha's rule is in, and kha adds that
    // rule itself (a warning, below): stopped, what drops VRRP is a firewall kha does not manage.
    onHost('lb2', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables >/dev/null && systemctl stop firewalld');
    try {
      onHost('lb2', "nft add table inet kha-test && nft add chain inet kha-test input '{ type filter hook input priority 0; }' && nft add rule inet kha-test input ip protocol 112 drop");
      let blocked: Run;
      try {
        blocked = kha(['apply', '--dry-run']);
      } finally {
        onHost('lb2', 'nft delete table inet kha-test');
      }
      expect(blocked.code, blocked.stderr).toBe(1);
      expect(blocked.stderr).toMatch(/^lb2 \[vrrp-path\]: lb1 → lb2 \(lb2 → lb1 works\): VRRP \(IP protocol 112\) from lb1 reaches lb2's network interface, but lb2's own firewall drops it/m);
      expect(blocked.stderr).not.toMatch(/\[vrrp-path\]: lb2 → lb1/);
      expect(blocked.stderr).toContain('nothing was changed on any host');
      const open = kha(['apply', '--dry-run']);
      expect(open.code, open.stderr).toBe(0);
      expect(open.stderr).not.toContain('vrrp-path');
      const multicast = hostsYaml.replace(/\.yaml$/, '-multicast.yaml');
      writeFileSync(multicast, readFileSync(hostsYaml, 'utf8').replace('unicast: true', 'unicast: false'));
      const group = kha(['apply', '--dry-run'], multicast);
      expect(group.code, group.stderr).toBe(0);
      expect(group.stderr).not.toContain('vrrp-path');
    } finally {
      onHost('lb2', 'systemctl start firewalld');
    }
    const first = kha(['apply', '--dry-run']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('warning: lb2 [vrrp-path]: lb1 → lb2: firewalld on lb2 does not let VRRP from lb1 in yet');
    expect(onHost('lb1', 'command -v keepalived || echo none').trim()).toBe('none');
  });

  it('dry-run on fresh hosts changes nothing and shows every file as a diff', () => {
    const r = kha(['apply', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('install keepalived, haproxy (apt)');
    expect(r.stdout).toContain('+++ /etc/haproxy/haproxy.cfg');
    expect(r.stdout).toContain('firewalld (public): rich rule rule family="ipv4" source address="10.77.0.11" protocol value="vrrp" accept');
    expect(onHost('lb1', 'command -v keepalived || echo none').trim()).toBe('none');
  });

  it('a cold apply converges both load balancers and the VIP reaches all three masters', () => {
    const r = kha(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/lb1: \d+ changed/);
    expect(r.stdout).toMatch(/every master reached/);
    expect(vipHolders()).toEqual(['lb1']);
    expect(mastersThroughVip(24)).toEqual(new Set(['m1', 'm2', 'm3']));
    expect(onHost('lb2', 'firewall-cmd --list-rich-rules')).toContain('source address="10.77.0.11" protocol value="vrrp" accept');
    expect(onHost('lb1', 'stat -c %a /etc/keepalived/keepalived.conf').trim()).toBe('600');
  });

  it('a second apply changes nothing and restarts nothing', () => {
    const before = ['lb1', 'lb2'].map(serviceStamp);
    const r = kha(['apply', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('No changes');
    expect(r.stdout).toContain('lb1: 0 changed');
    expect(r.stdout).toContain('lb2: 0 changed');
    expect(['lb1', 'lb2'].map(serviceStamp)).toEqual(before);
  });

  it('a change applied to serving load balancers, the holder reloaded too: a watch held through the VIP never stalls', async () => {
    const changed = hostsYaml.replace(/\.yaml$/, '-inter.yaml');
    writeFileSync(changed, `${readFileSync(hostsYaml, 'utf8')}haproxy:\n  check_inter_ms: 400\n`);
    // A watch through the VIP for as long as apply runs: each event stamped, each end of its connection said, then watched again.
    const watch = controllerLoop(
      'while :; do curl -skN https://10.77.0.10:6443/watch | while IFS= read -r l; do echo "$(date +%s.%N) event"; done; echo "$(date +%s.%N) ended"; sleep 0.05; done',
    );
    // Stopped however the test ends.
    onTestFinished(() => void watch.stop());
    await new Promise((r) => setTimeout(r, 1500));
    const holder = vipHolders();
    const r = kha(['apply', '--yes'], changed);
    await new Promise((r) => setTimeout(r, 1500));
    const log = watch.stop();
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    // Both load balancers reloaded haproxy on the new file, and the VIP stayed where it was.
    expect(r.stdout).toContain('reload haproxy');
    for (const h of ['lb1', 'lb2']) expect(onHost(h, 'grep -c "inter 400ms" /etc/haproxy/haproxy.cfg').trim()).not.toBe('0');
    expect(vipHolders()).toEqual(holder);
    const lines = log.trim().split('\n').map((l) => l.split(' '));
    const events = lines.filter(([, what]) => what === 'event').map(([t]) => Number(t));
    expect(events.length).toBeGreaterThan(50);
    // haproxy's reload leaves held connections to the old process, which serves them on: no end, no gap.
    expect(lines.filter(([, what]) => what === 'ended')).toEqual([]);
    const longest = Math.max(...events.slice(1).map((t, i) => t - events[i]!));
    console.log(`a watch held through apply: ${events.length} events, longest gap ${longest.toFixed(2)} s, no connection ended`);
    expect(longest).toBeLessThan(1);
    expect(kha(['apply', '--yes']).code).toBe(0);
  });

  it('repairs hand-broken hosts: a wrong haproxy.cfg on the backup, keepalived stopped on the holder', () => {
    onHost('lb2', "sed -i 's/balance leastconn/balance source/' /etc/haproxy/haproxy.cfg && systemctl reload haproxy");
    onHost('lb1', 'systemctl stop keepalived');
    const r = kha(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/update \/etc\/haproxy\/haproxy\.cfg/);
    expect(onHost('lb2', 'grep -c "balance leastconn" /etc/haproxy/haproxy.cfg').trim()).toBe('1');
    expect(onHost('lb1', 'systemctl is-active keepalived').trim()).toBe('active');
    expect(vipHolders()).toHaveLength(1);
    expect(kha(['apply', '--yes']).stdout).toContain('No changes');
  });

  it('a VRRP password: VRRPv2, redacted in the plan, the diff and --json, and back to VRRPv3', () => {
    const withPass = hostsYaml.replace(/\.yaml$/, '-v2.yaml');
    writeFileSync(withPass, readFileSync(hostsYaml, 'utf8').replace('  virtual_router_id: 51', '  virtual_router_id: 51\n  auth_pass: env:KHA_VRRP_PASS'));
    const dry = kha(['apply', '--dry-run'], withPass);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('auth_pass <redacted>');
    kha(['apply', '--dry-run', '--json'], withPass);
    // As a hand-made setup leaves it: readable by all. The password must not land in a readable file, not even the backup or the validator's copy.
    onHost('lb1', 'chmod 644 /etc/keepalived/keepalived.conf');
    const r = kha(['apply', '--yes'], withPass);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(onHost('lb1', 'grep -c "vrrp_version 2" /etc/keepalived/keepalived.conf').trim()).toBe('1');
    // Every file holding the password, the backup of the 0644 one it replaced, no validator copy or candidate left.
    expect(onHost('lb1', `grep -rl -- ${SECRET} /etc/keepalived | xargs stat -c '%a %n'`).trim()).toBe('600 /etc/keepalived/keepalived.conf');
    expect(onHost('lb1', 'stat -c %a /etc/keepalived/keepalived.conf.kha-bak').trim()).toBe('600');
    expect(onHost('lb1', 'ls -a /etc/keepalived')).not.toMatch(/\.t$|\.kha-new/m);
    expect(kha(['apply', '--yes']).code).toBe(0);
    expect(vipHolders()).toHaveLength(1);
  });

  it('a configuration that passes its validator but fails to load is rolled back on that host', () => {
    const taken = hostsYaml.replace(/\.yaml$/, '-port22.yaml');
    // haproxy -c accepts a health page on port 22; binding it fails, sshd has it.
    writeFileSync(taken, readFileSync(hostsYaml, 'utf8').replace('security:', 'haproxy:\n  monitor_port: 22\nsecurity:'));
    // The first host reloaded is a backup (the holder goes last); which one depends on the tests before.
    const backup = vipHolders()[0] === 'lb1' ? 'lb2' : 'lb1';
    const before = onHost(backup, 'sha256sum /etc/haproxy/haproxy.cfg');
    const r = kha(['apply', '--yes'], taken);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stderr).toContain(`${backup} [reload haproxy]: the new configuration did not load, so kha put back /etc/haproxy/haproxy.cfg: haproxy runs on the previous files again`);
    expect(onHost(backup, 'sha256sum /etc/haproxy/haproxy.cfg')).toBe(before);
    for (const h of ['lb1', 'lb2']) expect(onHost(h, 'systemctl is-active haproxy').trim()).toBe('active');
    expect(mastersThroughVip(6).size).toBeGreaterThan(0);
    expect(kha(['apply', '--yes']).code).toBe(0);
  });

  // SIGTERM is a CI job cancelled or a supervisor stopping kha: the same as Ctrl-C.
  it.each(['SIGINT', 'SIGTERM'] as const)('%s mid-run leaves no half-written file, and the next apply finishes the job', async (signal) => {
    onHost('lb1', "sed -i 's/timeout client 3600s/timeout client 60s/' /etc/haproxy/haproxy.cfg");
    onHost('lb2', "sed -i 's/timeout client 3600s/timeout client 60s/' /etc/haproxy/haproxy.cfg");
    const child = spawn(process.execPath, [KHA, 'apply', '--yes', hostsYaml], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    const code = await new Promise<number | string>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // Once: a second signal is "stop at once" (exit 130), which a later chunk of output would send.
        if (!sent && out.includes('== prepare')) {
          sent = true;
          child.kill(signal);
        }
      });
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (c, killedBy) => resolve(c ?? killedBy ?? -1));
    });
    printed.push(out);
    expect([0, signal === 'SIGINT' ? 130 : 1], out).toContain(code);
    for (const h of ['lb1', 'lb2']) {
      expect(onHost(h, 'ls -a /etc/haproxy /etc/keepalived')).not.toContain('.kha-new');
      expect(onHost(h, 'haproxy -c -q -f /etc/haproxy/haproxy.cfg && echo valid').trim()).toBe('valid');
    }
    const again = kha(['apply', '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(kha(['apply', '--yes']).stdout).toContain('No changes');
  });

  it('a connection lost mid-run: the host is named, nothing is half-written, the next apply finishes', async () => {
    for (const h of ['lb1', 'lb2']) onHost(h, "sed -i 's/timeout client 3600s/timeout client 90s/' /etc/haproxy/haproxy.cfg");
    const child = spawn(process.execPath, [KHA, 'apply', '--yes', hostsYaml], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let cut: Promise<unknown> | undefined;
    const code = await new Promise<number>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // From inside the machine, not over SSH: only kha's own connection
        // to lb2 is served by an `sshd: root@notty` process at this moment.
        if (!cut && out.includes('== converge the backups')) cut = machineExec(labDirs(process.env), 'lb2', ['pkill', '-f', 'sshd: root@notty']);
      });
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (c) => resolve(c ?? -1));
    });
    await cut;
    printed.push(out);
    expect(cut, out).toBeDefined();
    expect(code, out).toBe(1);
    expect(out).toMatch(/lb2\b.*(connection|closed|lost)/i);
    for (const h of ['lb1', 'lb2']) {
      expect(onHost(h, 'ls -a /etc/haproxy /etc/keepalived')).not.toContain('.kha-new');
      expect(onHost(h, 'haproxy -c -q -f /etc/haproxy/haproxy.cfg && echo valid').trim()).toBe('valid');
      expect(onHost(h, 'systemctl is-active haproxy keepalived').trim().split('\n')).toEqual(['active', 'active']);
    }
    expect(vipHolders()).toHaveLength(1);
    const again = kha(['apply', '--yes']);
    expect(again.code, again.stderr).toBe(0);
    for (const h of ['lb1', 'lb2']) expect(onHost(h, 'grep -c "timeout client 3600s" /etc/haproxy/haproxy.cfg').trim()).toBe('1');
    expect(kha(['apply', '--yes']).stdout).toContain('No changes');
  });

  it("kubeadm given a configuration without the VIP (the cluster built before its endpoint): status names the missing SAN, and no master can join", () => {
    const config = join(labDirs(process.env).lab, 'no-endpoint.yaml');
    writeFileSync(config, 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n');
    const init = spawnSync(process.execPath, [KHA, 'lab', 'kubeadm', 'init', 'm1', '--config', config], { env, encoding: 'utf8' });
    expect(init.status, init.stderr).toBe(0);
    expect(init.stdout).not.toContain('10.77.0.10');
    const r = kha(['status']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("the apiserver certificate served through the VIP lacks 10.77.0.10 of kha's certSANs: clients get an x509 error");
    expect(r.stdout).toContain(`On a new cluster: kubeadm init with the configuration from kha kubeadm ${hostsYaml}`);
    const joined = spawnSync(process.execPath, [KHA, 'lab', 'kubeadm', 'join', 'm2'], { env, encoding: 'utf8' });
    expect(joined.status).toBe(2);
    expect(joined.stderr).toContain('initialised without controlPlaneEndpoint');
  });

  it('never printed the VRRP password', () => {
    expect(printed.join('\n')).not.toContain(SECRET);
  });
});
