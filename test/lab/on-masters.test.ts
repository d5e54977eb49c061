import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labUp } from '../../src/lab/lifecycle.js';
import { labDirs } from '../../src/lab/state.js';
import { apiserverPortCut } from '../../src/drill/drills.js';
import { inventoryOf, onHost, runKha } from './harness.js';

// Source 004: no load balancers of their own. Three masters run the
// apiserver stand-in on 6443 and get keepalived + haproxy (on 8443) from kha;
// the first build walks the same order as on dedicated load balancers, and
// the drills break real daemons on the masters.

const M = { m1: '10.77.0.21', m2: '10.77.0.22', m3: '10.77.0.23' };
let hostsYaml = '';

const kha = (args: string[]) => runKha([...args, hostsYaml]);
const lab = (...args: string[]) => runKha(['lab', ...args], undefined, 300_000);

/** curl from one machine to another's port: `ok`, or how it failed. */
function reach(from: string, to: string, port: number): string {
  return onHost(from, `curl -sk -o /dev/null --max-time 2 https://${to}:${port}/readyz && echo ok || echo "failed $?"`).trim();
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the lab tests need root');
  await labDown(process.env, () => undefined);
  hostsYaml = (await labUp({ lbs: 0, masters: 3, workers: 0 }, process.env, () => undefined, { beforeKubeadm: true, endpointOnMasters: true })).hostsYaml;
}, 1_200_000);

afterAll(async () => {
  await labDown(process.env, () => undefined);
}, 300_000);

describe('the masters carry the endpoint: the first build', () => {
  it('lab up --on-masters writes the masters under lb too, the VIP on 8443', () => {
    const text = readFileSync(hostsYaml, 'utf8');
    expect(text).toMatch(/^ {2}port: 8443 /m);
    const inv = inventoryOf(hostsYaml);
    expect(inv.lbs.map((lb) => lb.name)).toEqual(['m1', 'm2', 'm3']);
    expect(inv.masters.map((m) => `${m.name}:${m.apiserverPort}`)).toEqual(['m1:6443', 'm2:6443', 'm3:6443']);
  });

  it('apply before kubeadm init: the endpoint on 8443 is up, no apiserver yet, nothing warned', () => {
    const r = kha(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('The endpoint is up: the VIP 10.77.0.10:8443 is held by m1 and haproxy listens on it. No apiserver answers yet');
    for (const m of Object.keys(M)) expect(r.stdout).toContain(`  ${m}: connection refused`);
    expect(r.stderr).not.toContain('warning');
    for (const a of Object.values(M)) expect(onHost(a, 'ss -Htln "sport = :8443" | wc -l').trim()).toBe('1');
  });

  it("kha kubeadm names the VIP's port for the endpoint and 6443 for each apiserver; init and joins go through the VIP", () => {
    const config = join(labDirs(process.env).lab, 'kubeadm-config.yaml');
    const k = kha(['kubeadm', '--out', config]);
    expect(k.code, k.stderr).toBe(0);
    expect(k.stdout).toContain('controlPlaneEndpoint 10.77.0.10:8443');
    expect(k.stdout).toContain('each apiserver binds its own port (6443), which haproxy forwards to');
    const text = readFileSync(config, 'utf8');
    expect(text).toContain('controlPlaneEndpoint: "10.77.0.10:8443"');
    expect(text).toMatch(/bindPort: 6443/);
    expect(lab('kubeadm', 'init', 'm1', '--config', config).code).toBe(0);
    for (const m of ['m2', 'm3']) {
      const j = lab('kubeadm', 'join', m);
      expect(j.code, j.stderr).toBe(0);
    }
    const waited = kha(['status', '--wait=60']);
    expect(waited.code, waited.stdout).toBe(0);
    expect(waited.stdout.trimEnd().split('\n').pop()).toBe('healthy');
    // Every host plays both roles, and status says so.
    for (const m of Object.keys(M)) expect(waited.stdout).toMatch(new RegExp(`^${m} +lb :8443, apiserver :6443 +(MASTER|BACKUP)`, 'm'));
    expect(waited.stdout).not.toContain('masters behind haproxy');
  });

  it('apply again changes nothing and records every apiserver as seen; a change to hosts that serve needs --yes', () => {
    const r = kha(['apply', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('No changes');
    const changed = join(labDirs(process.env).lab, 'hosts-changed.yaml');
    writeFileSync(changed, `${readFileSync(hostsYaml, 'utf8')}haproxy:\n  check_inter_ms: 400\n`);
    const unasked = runKha(['apply', changed]);
    expect(unasked.code, unasked.stdout).toBe(2);
    expect(unasked.stderr).toContain('m1, m2, m3 are serving; run with --yes to change them without asking');
    expect(onHost(M.m1, 'grep -c "inter 400ms" /etc/haproxy/haproxy.cfg || true').trim()).toBe('0');
    expect(onHost(M.m2, 'cat /var/lib/kha/apiservers.seen')).toBe('m1 10.77.0.21:6443\nm2 10.77.0.22:6443\nm3 10.77.0.23:6443\n');
  });
});

describe('drills on the masters', () => {
  it("backend-down's cut refuses only the apiserver port: on the master itself and from the others, while another port and VRRP go on", () => {
    const cut = apiserverPortCut(inventoryOf(hostsYaml).masters[2]!);
    // An etcd stand-in on m3's peer port, reached the same way as the apiserver.
    onHost(M.m3, 'systemd-run --unit kha-test-etcd python3 -m http.server 2380 --bind 10.77.0.23 >/dev/null');
    try {
      expect(onHost(M.m1, 'curl -s -o /dev/null -w %{http_code} --max-time 2 http://10.77.0.23:2380/').trim()).toBe('200');
      expect(reach(M.m1, M.m3, 6443)).toBe('ok');
      const states = () => onHost(M.m3, "journalctl -u keepalived -o cat --no-pager | grep -c 'Entering' || true").trim();
      const before = states();
      // A watch m1 holds on m3's apiserver while the cut goes in: a stopping apiserver finishes what it serves,
      // so the cut refuses new connections only, and the watch runs to its own end (curl's 28, its time limit).
      onHost(M.m1, `setsid bash -c 'curl -skN --max-time 3 https://${M.m3}:6443/watch > /tmp/kha-held.out; echo $? > /tmp/kha-held.rc' </dev/null >/dev/null 2>&1 &`);
      onHost(M.m1, 'sleep 1');
      onHost(M.m3, cut.cut);
      try {
        expect(onHost(M.m1, 'sleep 2.5; cat /tmp/kha-held.rc').trim()).toBe('28');
        // An event every 100 ms for 3 s, two thirds of them after the cut.
        expect(Number(onHost(M.m1, 'wc -l < /tmp/kha-held.out').trim())).toBeGreaterThan(25);
        // curl's 7: connection refused (the reset), from another master and from m3 itself.
        expect(reach(M.m1, M.m3, 6443)).toBe('failed 7');
        expect(reach(M.m3, M.m3, 6443)).toBe('failed 7');
        expect(onHost(M.m1, 'curl -s -o /dev/null -w %{http_code} --max-time 2 http://10.77.0.23:2380/').trim()).toBe('200');
        expect(reach(M.m1, M.m1, 6443)).toBe('ok');
        expect(onHost(M.m3, 'sleep 2; ip -o -4 addr show | grep -v "^[0-9]*: lo " | grep -c " 10.77.0.10/" || true').trim()).toBe('0');
        // No VRRP state change on m3 while its apiserver port is refused.
        expect(states()).toBe(before);
      } finally {
        onHost(M.m3, cut.heal);
      }
      onHost(M.m3, cut.healed);
      expect(reach(M.m1, M.m3, 6443)).toBe('ok');
    } finally {
      onHost(M.m3, 'systemctl stop kha-test-etcd');
    }
  });

  it('every drill passes; backend-down refuses the port on the master; partition says what it cannot show', () => {
    const r = kha(['verify-failover', '--json']);
    const parsed = JSON.parse(r.stdout) as {
      ok: boolean;
      drills: { name: string; title: string; caveat?: string; passed: boolean; expectations: { name: string; held: boolean; detail: string }[]; summary: { dualHoldingMs: number } }[];
    };
    const failed = parsed.drills.filter((d) => !d.passed).map((d) => `${d.name}: ${JSON.stringify(d.expectations.filter((e) => !e.held))}`);
    expect(failed, r.stderr).toEqual([]);
    expect(parsed.drills.map((d) => d.name)).toEqual(['keepalived-stop', 'keepalived-kill', 'haproxy-down', 'backend-down', 'partition', 'failback']);
    const backend = parsed.drills.find((d) => d.name === 'backend-down')!;
    expect(backend.title).toBe("refuse m3's apiserver port 6443 on m3 (VRRP and etcd between the masters untouched)");
    expect(backend.expectations.find((e) => e.name === 'm3 out of rotation within 1 s')!.detail).toMatch(/haproxy marked it down after 0\.\d\d s/);
    const partition = parsed.drills.find((d) => d.name === 'partition')!;
    expect(partition.caveat).toMatch(/is also an etcd member; cut off, it loses quorum .* This drill judges VRRP and the clients, not etcd/);
    expect(parsed.drills.find((d) => d.name === 'haproxy-down')!.expectations.find((e) => e.name === 'never two holders')!.held).toBe(true);
    // Every host whole afterwards: no drill rule left, both services up, one holder.
    for (const a of Object.values(M)) {
      expect(onHost(a, 'iptables -S INPUT | grep -c kha-drill || true').trim()).toBe('0');
      expect(onHost(a, 'systemctl is-active keepalived haproxy kha-apiserver').trim().split('\n')).toEqual(['active', 'active', 'active']);
    }
    const status = kha(['status']);
    expect(status.code, status.stdout).toBe(0);
  });
});
