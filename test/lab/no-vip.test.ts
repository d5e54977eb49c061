import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labUp } from '../../src/lab/lifecycle.js';
import { labDirs } from '../../src/lab/state.js';
import { onHost, runKha, timedKha } from './harness.js';

// Issue 14, point 1: a cluster with no load balancer and no VIP (source 001).
// Each host's local proxy is the whole endpoint: built before kubeadm on the
// workers and the masters (on 7443: their apiservers hold 6443), kubeadm
// pointed at the first master as the source does, then every kubelet, the
// masters' included, pointed at its own proxy, so the first master is no
// longer a single point of failure; verify-failover runs the drills from a
// node and says why the others do not apply. Two masters, two workers, no lb.

const M1 = '10.77.0.21';
const M = { m1: M1, m2: '10.77.0.22' };
const W = { w1: '10.77.0.31', w2: '10.77.0.32' };
const PROXY = 'https://127.0.0.1:7443';
const CONF = '/etc/kubernetes/kubelet.conf';
let hostsYaml = '';

const kha = (args: string[]) => runKha([...args, hostsYaml]);
const lab = (...args: string[]) => runKha(['lab', ...args], undefined, 300_000);

const timed = (args: string[]) => timedKha(args, hostsYaml);

const server = (node: string) => onHost(node, `grep -o 'server: .*' ${CONF}`).trim();
/** 20 requests, as the node's kubelet would make them: through its proxy, or straight to an address. */
const answered = (node: string, url: string) =>
  Number(onHost(node, `n=0; for i in $(seq 1 20); do curl -sk -o /dev/null --max-time 2 ${url} && n=$((n+1)); done; echo $n`).trim());

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the lab tests need root');
  await labDown(process.env, () => undefined);
  hostsYaml = (await labUp({ lbs: 0, masters: 2, workers: 2 }, process.env, () => undefined, { beforeKubeadm: true })).hostsYaml;
  writeFileSync(hostsYaml, readFileSync(hostsYaml, 'utf8').replace(/^ {2}kubelet: false.*$/m, '  kubelet: true'));
}, 600_000);

afterAll(async () => {
  await labDown(process.env, () => undefined);
}, 300_000);

describe('no VIP: the local proxy is the endpoint', () => {
  it("lab up --lbs 0 writes no VIP; validate says so, and that kubeadm's first master stays a single point until the kubelets are pointed", () => {
    expect(readFileSync(hostsYaml, 'utf8')).not.toMatch(/^(cluster|lb|keepalived):/m);
    const r = kha(['validate']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('is valid: 2 masters, 2 nodes, no VIP: each host\'s local proxy is its endpoint');
    expect(r.stdout).toContain('node proxy: haproxy on 127.0.0.1:7443 to every apiserver, health on 127.0.0.1:8405, on every master and 2 nodes (4 hosts)');
    expect(r.stdout).not.toContain('single point of failure');
    const e = kha(['explain', '--offline']);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('lists no load balancer and no VIP: there is no failover to explain');
    const st = lab('status');
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toContain("no VIP: the lab's hosts.yaml has none, and each host's local proxy is its endpoint");
    const j = JSON.parse(lab('status', '--json').stdout) as { vip: string | null; holders: string[] };
    expect(j).toMatchObject({ vip: null, holders: [] });
  });

  it('before kubeadm: apply builds the proxies, and the gate says no apiserver answers yet', () => {
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('node proxies: 4/4 done, 0 failed');
    expect(r.stdout).toContain('w1: the proxy runs and accepts on 127.0.0.1:7443; no apiserver answers yet, as before kubeadm init');
    expect(r.stdout).not.toMatch(/VIP|keepalived/);
  });

  it("kha kubeadm points kubeadm at the first master with 127.0.0.1 in certSANs; the masters and workers join through it, every kubelet on m1", () => {
    const config = join(labDirs(process.env).lab, 'kubeadm-config.yaml');
    const k = kha(['kubeadm', '--out', config]);
    expect(k.code, k.stderr).toBe(0);
    const text = readFileSync(config, 'utf8');
    expect(text).toContain(`controlPlaneEndpoint: "${M1}:6443"`);
    expect(text).toContain("# No VIP: kubelets and joining masters reach m1's apiserver at 10.77.0.21:6443, and nothing else,");
    expect(text).toMatch(/certSANs:\n {4}- "127\.0\.0\.1"\n/);
    const m1 = lab('kubeadm', 'init', 'm1', '--config', config);
    expect(m1.stdout).toContain(`kubelet started, its kubelet.conf says server https://${M1}:6443`);
    const m2 = lab('kubeadm', 'join', 'm2');
    expect(m2.code, m2.stderr).toBe(0);
    expect(m2.stdout).toContain(`kubelet started, its kubelet.conf says server https://${M1}:6443`);
    for (const w of ['w1', 'w2']) {
      const j = lab('kubeadm', 'join', w);
      expect(j.code, j.stderr).toBe(0);
      expect(j.stdout).toContain(`${w}: joined; ${CONF} says server https://${M1}:6443; kubelet started`);
    }
  });

  it("apply points each kubelet at its proxy, the masters' too; a second apply says No changes", () => {
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    for (const [name, host] of Object.entries({ ...M, ...W })) {
      expect(r.stdout).toMatch(new RegExp(`${name}: kubelet came back through the proxy \\(pid \\d+, connected from 127\\.0\\.0\\.1:\\d+ to 127\\.0\\.0\\.1:7443\\)`));
      expect(server(host)).toBe(`server: ${PROXY}`);
    }
    const again = timed(['apply', '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('No changes');
  });

  it('a run killed between pointing the kubeconfig and restarting the kubelet: the next apply restarts it, and it comes back through the proxy', () => {
    // What such a run leaves on w1: the kubelet on its old server (m1), the file already pointed, the restart owed.
    onHost(W.w1, `cp -p ${CONF} /root/pointed.conf && cp -p ${CONF}.kha-bak ${CONF} && systemctl restart kubelet`);
    onHost(W.w1, `touch /var/lib/kha/kubelet.restart-pending && cp -p /root/pointed.conf ${CONF}`);
    const before = onHost(W.w1, 'systemctl show -p MainPID --value kubelet').trim();
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(`w1: restart kubelet (a run stopped after it pointed ${CONF} at the local proxy and before it restarted kubelet, which may still use its old server)`);
    expect(r.stdout).toMatch(/w1: kubelet is connected through the proxy \(pid \d+, from 127\.0\.0\.1:\d+\)/);
    expect(onHost(W.w1, 'systemctl show -p MainPID --value kubelet').trim()).not.toBe(before);
    expect(onHost(W.w1, 'ls /var/lib/kha/kubelet.restart-pending 2>/dev/null || echo gone').trim()).toBe('gone');
    expect(timed(['apply', '--yes']).stdout).toContain('No changes');
  });

  it('status: no VIP, every proxy serving with both masters UP, the certificate read from m1; --json says vip null', () => {
    const r = kha(['status']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("No VIP (hosts.yaml lists no lb): each host's local proxy is its endpoint");
    expect(r.stdout).toContain('local proxies (haproxy on 127.0.0.1:7443): 4 of 4 serving an apiserver');
    expect(r.stdout).toContain('w1: kha-node-proxy active, health 200, backends m1:UP m2:UP, drift none');
    expect(r.stdout).toMatch(/certificate by m1's apiserver: CN=kube-apiserver-m1, SANs .*127\.0\.0\.1/);
    expect(r.stdout.trimEnd().endsWith('healthy')).toBe(true);
    const j = JSON.parse(kha(['status', '--json']).stdout) as { vip: unknown; healthy: boolean };
    expect(j).toMatchObject({ vip: null, healthy: true });
    const w = kha(['status', '--wait', '30']);
    expect(w.stdout).toContain('waiting up to 30 s for every master to be UP in every local proxy');
    expect(w.code).toBe(0);
  });

  it("m1, kubeadm's only endpoint, refusing its apiserver port: every host still reaches the cluster through its proxy, which a kubelet left on m1 would not", () => {
    onHost(M1, 'iptables -I INPUT -p tcp --dport 6443 -j REJECT --reject-with tcp-reset');
    try {
      for (const host of Object.values({ ...M, ...W })) {
        expect(answered(host, `${PROXY}/readyz`)).toBe(20);
        expect(answered(host, `https://${M1}:6443/readyz`)).toBe(0);
      }
      // By now every proxy's checks have failed m1 many times: status says so once, for all of them; the certificate is read from m2.
      const s = kha(['status']);
      expect(s.code).toBe(1);
      expect(s.stdout).toContain('  - the local proxy of 4 of 4 hosts (m1, m2, w1 and 1 more) has m1 DOWN: connection refused');
      expect(s.stdout).toContain("certificate by m2's apiserver: CN=kube-apiserver-m2");
    } finally {
      onHost(M1, 'iptables -D INPUT -p tcp --dport 6443 -j REJECT --reject-with tcp-reset');
    }
  });

  it('verify-failover: the drills from a node run and pass; those of the VIP say why they do not apply; the report has no VIP', () => {
    const report = join(labDirs(process.env).lab, 'no-vip-report.html');
    const r = timed(['verify-failover', '--probe-from', 'w1', '--report', report]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('keepalived-stop: does not apply to a cluster with no VIP: it breaks the VIP, and hosts.yaml lists no lb to hold one');
    expect(r.stdout).toMatch(/^drill {16}outcome {2}outage through w1's proxy$/m);
    expect(r.stdout).toMatch(/^node-apiserver-stop {2}pass/m);
    expect(r.stdout).toMatch(/^node-master-crash {4}pass/m);
    expect(r.stdout).not.toContain('VIP moved');
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('Failover drills for the local proxies (no VIP): 2 of 2 passed');
    expect(html).not.toContain('holds the VIP');
    const bad = kha(['verify-failover', '--drill', 'keepalived-stop']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--drill keepalived-stop does not apply to a cluster with no VIP');
  });
});
