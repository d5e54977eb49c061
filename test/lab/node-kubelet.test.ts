import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labUp } from '../../src/lab/lifecycle.js';
import { labDirs } from '../../src/lab/state.js';
import { onHost, runKha, timedKha } from './harness.js';

// Issue 14, point 3: node_proxy.kubelet points each worker's kubelet at its
// local proxy. The first build in the guides' order (the proxies before
// kubeadm, then kubeadm through the VIP with kha's certSANs), the workers'
// kubelets (the lab's stand-in: a long-lived TLS connection to the server
// of /etc/kubernetes/kubelet.conf, its certificate checked), then apply
// points them. Two load balancers, one master, two workers.

const W = { w1: '10.77.0.31', w2: '10.77.0.32' };
const CONF = '/etc/kubernetes/kubelet.conf';
let hostsYaml = '';

const kha = (args: string[]) => runKha([...args, hostsYaml]);
const lab = (...args: string[]) => runKha(['lab', ...args], undefined, 300_000);

const timed = (args: string[]) => timedKha(args, hostsYaml);

const server = (node: string, file = CONF) => onHost(node, `grep -o 'server: .*' ${file}`).trim();
const kubeletPid = (node: string) => onHost(node, 'systemctl show -p MainPID --value kubelet').trim();
/** The kubelet's established connections to the local proxy, as ss names them. */
const throughProxy = (node: string) => onHost(node, 'ss -tnpH state established dst 127.0.0.1:6443 | grep -c \'"kubelet"\' || true').trim();

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the lab tests need root');
  await labDown(process.env, () => undefined);
  hostsYaml = (await labUp({ lbs: 2, masters: 1, workers: 2 }, process.env, () => undefined, { beforeKubeadm: true })).hostsYaml;
  writeFileSync(hostsYaml, readFileSync(hostsYaml, 'utf8').replace(/^ {2}kubelet: false.*$/m, '  kubelet: true'));
}, 600_000);

afterAll(async () => {
  await labDown(process.env, () => undefined);
}, 300_000);

describe("the kubelet pointed at the node's proxy", () => {
  it('before kubeadm: apply builds the proxies and says the kubelets come later, not an error', () => {
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr).toContain(`w1 [node-proxy-kubelet]: no ${CONF} yet (before kubeadm init or join): the kubelet is pointed at the proxy by the first apply after it`);
    expect(r.stdout).toContain('node proxies: 2/2 done, 0 failed');
  });

  it("kubeadm with kha's configuration: the apiserver certificate names 127.0.0.1; the workers join and their kubelets connect through the VIP", () => {
    const config = join(labDirs(process.env).lab, 'kubeadm-config.yaml');
    const k = kha(['kubeadm', '--out', config]);
    expect(k.code, k.stderr).toBe(0);
    expect(k.stdout).toContain('certSANs 10.77.0.10, 127.0.0.1');
    const init = lab('kubeadm', 'init', 'm1', '--config', config);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('10.77.0.10, 127.0.0.1; apiserver up');
    for (const w of ['w1', 'w2']) {
      const j = lab('kubeadm', 'join', w);
      expect(j.code, j.stderr).toBe(0);
      expect(j.stdout).toContain(`${w}: joined; ${CONF} says server https://10.77.0.10:6443; kubelet started`);
    }
    expect(onHost(W.w1, 'for i in $(seq 1 20); do journalctl -u kubelet -o cat | grep -q "^connected to https://10.77.0.10:6443" && { echo yes; exit; }; sleep 0.5; done; echo no').trim()).toBe('yes');
  });

  it('--dry-run shows the diff of the server line and the restart, and changes nothing', () => {
    const r = kha(['apply', '--dry-run']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(`node-proxy-kubelet   ~ update ${CONF}`);
    expect(r.stdout).toContain(`~ restart kubelet (it reads ${CONF} only at start: the local proxy, not https://10.77.0.10:6443)`);
    expect(r.stdout).toContain('    -    server: https://10.77.0.10:6443');
    expect(r.stdout).toContain('    +    server: https://127.0.0.1:6443');
    expect(server(W.w1)).toBe('server: https://10.77.0.10:6443');
  });

  it('apply points both kubelets, keeps a backup, and sees each connected through 127.0.0.1:6443', () => {
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    for (const [name, w] of Object.entries(W)) {
      expect(r.stdout).toMatch(new RegExp(`${name}: kubelet came back through the proxy \\(pid \\d+, connected from 127\\.0\\.0\\.1:\\d+ to 127\\.0\\.0\\.1:6443\\); haproxy's frontend has [1-9]\\d* sessions now`));
      expect(server(w)).toBe('server: https://127.0.0.1:6443');
      expect(server(w, `${CONF}.kha-bak`)).toBe('server: https://10.77.0.10:6443');
      expect(onHost(w, `stat -c %a ${CONF} ${CONF}.kha-bak`).trim().split('\n')).toEqual(['600', '600']);
      expect(Number(throughProxy(w))).toBeGreaterThanOrEqual(1);
      // Only the server line changed.
      expect(onHost(w, `diff ${CONF}.kha-bak ${CONF} | grep -c '^[<>]' || true`).trim()).toBe('2');
    }
  });

  it('a second apply: No changes, and the kubelet is not restarted', () => {
    const before = kubeletPid(W.w1);
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('No changes');
    expect(kubeletPid(W.w1)).toBe(before);
    expect(Number(throughProxy(W.w1))).toBeGreaterThanOrEqual(1);
  });

  it('software: nginx under pointed kubelets: the proxy stops and starts, and the gate sees each kubelet connected through it again', () => {
    writeFileSync(hostsYaml, readFileSync(hostsYaml, 'utf8').replace('  software: haproxy', '  software: nginx'));
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    for (const [name, w] of Object.entries(W)) {
      expect(r.stdout).toMatch(new RegExp(`${name}: kubelet is connected through the proxy \\(pid \\d+, from 127\\.0\\.0\\.1:\\d+\\)`));
      expect(onHost(w, 'systemctl show -p ExecStart kha-node-proxy')).toContain('/usr/sbin/nginx');
      expect(Number(throughProxy(w))).toBeGreaterThanOrEqual(1);
    }
  });

  it('a kubeconfig with no server: line: refused before any host changes, naming the host, the file and why', () => {
    // w1 back as kubeadm left it (apply would point it again); w2 with its server line gone.
    onHost(W.w1, `cp -p ${CONF}.kha-bak ${CONF}`);
    onHost(W.w2, `cp -p ${CONF} /root/kubelet.conf.good && sed -i '/^ *server:/d' ${CONF}`);
    const sums = () => Object.values(W).map((w) => onHost(w, `sha256sum ${CONF}`).trim());
    const pids = () => Object.values(W).map(kubeletPid);
    const [sumsBefore, pidsBefore] = [sums(), pids()];
    try {
      const r = kha(['apply', '--yes']);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(`w2 [node-proxy-kubelet]: ${CONF}: it has no \`server:\` line: kha cannot tell where this client connects (node_proxy.kubelet)`);
      expect(r.stderr).toContain('nothing was changed on any host');
      expect(sums()).toEqual(sumsBefore);
      expect(pids()).toEqual(pidsBefore);
    } finally {
      onHost(W.w2, `cp -p /root/kubelet.conf.good ${CONF}`);
    }
  });
});

// Issue 15, point 5: client-go's HTTP/2 health check for the kubelets kha
// manages, when hosts.yaml asks. The stand-in is not client-go: this proves
// the drop-in, the restart and what the kubelet's process receives; what
// client-go does with it is bench/client-go-health.mjs's, with real kubectl.
describe("the kubelet's HTTP/2 health check (hosts.yaml kubelet)", () => {
  const DROP_IN = '/etc/systemd/system/kubelet.service.d/20-kha-http2-health.conf';
  const env = (node: string) => onHost(node, "tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value kubelet)/environ | grep ^HTTP2_ | sort || true").trim();
  const withSection = () => writeFileSync(hostsYaml, `${readFileSync(hostsYaml, 'utf8')}kubelet:\n  http2_read_idle_timeout_s: 5\n  http2_ping_timeout_s: 3\n`);

  it('--dry-run lists the drop-in and one restart per kubelet, and changes nothing', () => {
    withSection();
    const r = kha(['apply', '--dry-run']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(`kubelet-settings     ~ create ${DROP_IN} (0644)`);
    expect(r.stdout).toContain('~ restart kubelet (it reads HTTP2_READ_IDLE_TIMEOUT_SECONDS and HTTP2_PING_TIMEOUT_SECONDS only when it starts)');
    expect(onHost(W.w1, `test -e ${DROP_IN} && echo there || echo absent`).trim()).toBe('absent');
  });

  it("apply writes it, restarts each kubelet once, and the gate reads the variables from the kubelet's own process", () => {
    const before = kubeletPid(W.w2);
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    for (const [name, w] of Object.entries(W)) {
      expect(r.stdout).toMatch(new RegExp(`${name}: the kubelet runs with HTTP2_PING_TIMEOUT_SECONDS=3 HTTP2_READ_IDLE_TIMEOUT_SECONDS=5 \\(pid \\d+\\)`));
      expect(env(w)).toBe('HTTP2_PING_TIMEOUT_SECONDS=3\nHTTP2_READ_IDLE_TIMEOUT_SECONDS=5');
      expect(onHost(w, `stat -c %a ${DROP_IN}`).trim()).toBe('644');
      expect(Number(throughProxy(w))).toBeGreaterThanOrEqual(1);
    }
    expect(kubeletPid(W.w2)).not.toBe(before);
    expect(r.stdout).toContain('kubelet settings: 2/2 done, 0 failed');
  });

  it('a second apply: No changes, and no kubelet restarted', () => {
    const before = kubeletPid(W.w1);
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('No changes');
    expect(kubeletPid(W.w1)).toBe(before);
  });

  it("without the section: the drop-in is taken away, and each kubelet runs on client-go's defaults again", () => {
    writeFileSync(hostsYaml, readFileSync(hostsYaml, 'utf8').replace(/^kubelet:\n(?: {2}.*\n)*/m, ''));
    const r = timed(['apply', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    for (const [name, w] of Object.entries(W)) {
      expect(r.stdout).toContain(`${name}: the kubelet runs with client-go's defaults`);
      expect(env(w)).toBe('');
      expect(onHost(w, `test -e ${DROP_IN} && echo there || echo absent`).trim()).toBe('absent');
    }
  });
});
