import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyChange, Rollback } from '../../../src/execute/apply-change.js';
import type { HostFacts } from '../../../src/facts/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { certSans, kubeadmHandoff } from '../../../src/kubeadm/handoff.js';
import { proxyAnswers } from '../../../src/node-proxy/gate.js';
import { kubeletConf } from '../../../src/lab/kubelet-node.js';
import { readKubeconfig, withServer } from '../../../src/node-proxy/kubeconfig.js';
import { KUBE_PROXY_CONF, KUBELET_CONF, restartPendingPath } from '../../../src/node-proxy/kubelet.js';
import { pointedIn, usesProxyCommand } from '../../../src/node-proxy/kubelet-gate.js';
import { kubeconfigsPointableWith, type CertificateReader } from '../../../src/node-proxy/preflight.js';
import { missingSans, sanAdvice } from '../../../src/observe/certificate.js';
import { NODE_PROXY_TASKS } from '../../../src/node-proxy/tasks.js';
import { packageRoot } from '../../../src/paths.js';
import { describeChange, type Change } from '../../../src/plan/changes.js';
import { planRoles, probeFor } from '../../../src/role/roles.js';
import { FakeSession } from '../../../src/transport/fake.js';
import { formatPlan } from '../../../src/ui/plan-view.js';
import { debianNode } from './host.js';

// node_proxy.kubelet (issue 14 point 3): the kubelet's kubeconfig pointed at
// the local proxy, explicitly; a file kha does not understand refused.

const TASKS = [...NODE_PROXY_TASKS.keys()];
const CA = 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZRUUREQmhyTXpNdApjMlZ5ZG1WeUxXTmhRREUzTURBd01EQXdNREF3SGhjTk1qUXdNVEF4TURBd01EQXdXaGNOTXpRd01UQXhNREF3TURBd1dqQWpNU0V3Ckh3WURWUVFEREJock16TXRjMlZ5ZG1WeUxXTmhRREUzTURBd01EQXdNREF3V1RBVEJnY3Foa2pPUFFJQkJnZ3Foa2pPUFFNQkJ3TkMKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=';

/** What the kubelet's TLS bootstrap leaves after `kubeadm join` (its names are client-go's defaults). */
const JOINED = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ${CA}
    server: https://10.77.0.10:6443
  name: default-cluster
contexts:
- context:
    cluster: default-cluster
    namespace: default
    user: default-auth
  name: default-context
current-context: default-context
kind: Config
preferences: {}
users:
- name: default-auth
  user:
    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem
    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem
`;

/** What `kubeadm init` writes on the first master: the client key embedded. */
const INIT = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ${CA}
    server: https://10.77.0.10:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: system:node:m1
  name: system:node:m1@kubernetes
current-context: system:node:m1@kubernetes
kind: Config
users:
- name: system:node:m1
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUFBQUFBQUFBQUFBQUFB
`;

function inventory(kubelet = true): Inventory {
  const text = readFileSync(join(packageRoot, 'examples', 'node-proxy.yaml'), 'utf8').replace(/^ {2}kubelet: .*$/m, `  kubelet: ${kubelet}`);
  const r = parseInventory(text, 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

/** A node whose proxy runs as apply leaves it; the kubelet's state and kubeconfig as given. */
function node(inv: Inventory, kubelet: { conf?: string | null; active?: string; kubeProxyConf?: string; kubeProxyUnit?: boolean; restartOwed?: boolean } = {}): HostFacts {
  const req = probeFor(inv, 'w1');
  const conf = kubelet.conf === undefined ? JOINED : kubelet.conf;
  const files = req.files.map((path) => {
    if (path === KUBELET_CONF && conf !== null) return { path, exists: true, mode: 0o600, owner: 'root', group: 'root', content: conf };
    if (path === KUBE_PROXY_CONF && kubelet.kubeProxyConf !== undefined) return { path, exists: true, mode: 0o600, owner: 'root', group: 'root', content: kubelet.kubeProxyConf };
    if (path === restartPendingPath('kubelet') && kubelet.restartOwed) return { path, exists: true, mode: 0o644, owner: 'root', group: 'root', content: '' };
    return { path, exists: false, mode: null, owner: null, group: null, content: null };
  });
  const unit = (name: string, active: string, present = true) => ({ name, present, active, enabled: present ? 'enabled' : 'disabled', mainPid: 0, startedAtMonotonicUs: 0 });
  return {
    ...debianNode('w1'),
    packages: { keepalived: null, haproxy: null },
    packageVersions: {},
    files,
    directories: [],
    services: req.services.map((s) => {
      if (s === 'kubelet') return unit(s, kubelet.active ?? 'active');
      if (s === 'kube-proxy') return unit(s, kubelet.kubeProxyUnit ? 'active' : 'inactive', kubelet.kubeProxyUnit ?? false);
      return unit(s, 'inactive', false);
    }),
  };
}

const kubeletChanges = (inv: Inventory, f: HostFacts): Change[] => planRoles(inv, 'w1', f, ['node-proxy-kubelet']).tasks.flatMap((t) => t.changes);

/** The certificate through the VIP, as a master issued by kha kubeadm's configuration (127.0.0.1 included) or not. */
function served(ip: string[]): CertificateReader {
  return async (_host, _port, wanted, opts) => {
    const sans = { dns: ['kubernetes'], ip };
    const missing = missingSans(sans, wanted);
    return { subject: 'kube-apiserver', sans, missing, ...(missing.length > 0 ? { advice: sanAdvice(missing, opts.inventory) } : {}) };
  };
}

async function preflight(inv: Inventory, f: HostFacts, cert: CertificateReader = served(['10.77.0.21', '10.77.0.10', '127.0.0.1'])) {
  return kubeconfigsPointableWith(cert).run({ inv, facts: new Map([['w1', f]]), sessions: new Map() });
}

describe('a kubeconfig as kubeadm writes it', () => {
  it.each([
    ['after kubeadm join (TLS bootstrap)', JOINED],
    ['after kubeadm init (key embedded)', INIT],
  ])('%s: read, and only its server line changes', (_what, text) => {
    expect(readKubeconfig(text)).toEqual({ ok: true, server: 'https://10.77.0.10:6443' });
    const out = withServer(text, 'https://10.77.0.10:6443', 'https://127.0.0.1:6443');
    const before = text.split('\n');
    const after = out.split('\n');
    expect(after.length).toBe(before.length);
    const differ = before.flatMap((l, i) => (l === after[i] ? [] : [[l, after[i]]]));
    expect(differ).toEqual([['    server: https://10.77.0.10:6443', '    server: https://127.0.0.1:6443']]);
  });

  it("the lab's worker kubeconfig (kha lab kubeadm join W) is one kha reads as kubeadm's", () => {
    expect(readKubeconfig(kubeletConf('https://10.77.0.10:6443', '-----BEGIN CERTIFICATE-----\n'))).toEqual({ ok: true, server: 'https://10.77.0.10:6443' });
  });

  it('a quoted server keeps its quotes', () => {
    const text = JOINED.replace('server: https://10.77.0.10:6443', 'server: "https://10.77.0.10:6443"');
    expect(readKubeconfig(text)).toEqual({ ok: true, server: 'https://10.77.0.10:6443' });
    expect(withServer(text, 'https://10.77.0.10:6443', 'https://127.0.0.1:7443')).toContain('    server: "https://127.0.0.1:7443"\n');
  });

  it.each([
    ['no server: line', JOINED.replace('    server: https://10.77.0.10:6443\n', ''), 'it has no `server:` line: kha cannot tell where this client connects'],
    [
      'two clusters',
      JOINED.replace('contexts:', '- cluster:\n    server: https://10.0.0.1:6443\n  name: other\ncontexts:'),
      'it names 2 clusters; kha rewrites a kubeconfig with exactly one, as kubeadm writes it',
    ],
    ['not YAML', 'apiVersion: v1\nclusters: [\n', 'it is not YAML'],
    ['not a kubeconfig', 'kind: Pod\napiVersion: v1\n', 'it is not a kubeconfig (no `kind: Config`)'],
    ['two documents', `${JOINED}---\n${JOINED}`, 'it holds 2 YAML documents; kubeadm writes one'],
    ['a plain-http server', JOINED.replace('https://10.77.0.10:6443', 'http://10.77.0.10:8080'), 'its server is "http://10.77.0.10:8080", not an https:// URL as kubeadm writes'],
    ['the current context elsewhere', JOINED.replace('current-context: default-context', 'current-context: other'), 'its current-context does not name the cluster "default-cluster"'],
    [
      'the server in flow style',
      JOINED.replace(`- cluster:\n    certificate-authority-data: ${CA}\n    server: https://10.77.0.10:6443\n`, '- cluster: { server: "https://10.77.0.10:6443" }\n'),
      'its `server:` is not on a line of its own',
    ],
  ])('%s: refused with the reason', (_what, text, reason) => {
    const r = readKubeconfig(text);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(reason);
  });
});

describe('node-proxy-kubelet: the plan', () => {
  it('off by default: nothing planned, and the kubelet kubeconfig (it may hold a key) is not even read', () => {
    const inv = inventory(false);
    expect(probeFor(inv, 'w1').files).not.toContain(KUBELET_CONF);
    expect(kubeletChanges(inv, node(inv))).toEqual([]);
  });

  it('on: the server line rewritten (mode kept, backup made private), then the kubelet restarted', () => {
    const inv = inventory();
    const changes = kubeletChanges(inv, node(inv));
    expect(changes.map(describeChange)).toEqual([
      `update ${KUBELET_CONF}`,
      `restart kubelet (it reads ${KUBELET_CONF} only at start: the local proxy, not https://10.77.0.10:6443)`,
    ]);
    const write = changes[0]!;
    expect(write).toMatchObject({ kind: 'file.write', mode: 0o600, secret: true, service: 'kubelet', previous: JOINED });
    expect(write.kind === 'file.write' && write.content).toBe(JOINED.replace('https://10.77.0.10:6443', 'https://127.0.0.1:6443'));
    // The file goes in only while the proxy passes an apiserver.
    expect(write.kind === 'file.write' && write.validate).toContain('127.0.0.1/8405');
  });

  it('a second run: already pointed, nothing to do, no restart', () => {
    const inv = inventory();
    const pointed = node(inv, { conf: JOINED.replace('https://10.77.0.10:6443', 'https://127.0.0.1:6443') });
    expect(kubeletChanges(inv, pointed)).toEqual([]);
  });

  it('the write owes the restart (a file made in the same step as the rename, removed by the restart): the kubeconfig and the owed restart are read', () => {
    const inv = inventory();
    expect(probeFor(inv, 'w1').files).toContain('/var/lib/kha/kubelet.restart-pending');
    const [write, restart] = kubeletChanges(inv, node(inv));
    expect(write).toMatchObject({ kind: 'file.write', restartPending: '/var/lib/kha/kubelet.restart-pending' });
    expect(restart).toMatchObject({ kind: 'service.restart', pending: '/var/lib/kha/kubelet.restart-pending' });
  });

  it('pointed by a run killed before the restart: the restart alone, said why; with the kubelet stopped, nothing (preflight refuses a stopped kubelet only when it must point one)', () => {
    const inv = inventory();
    const conf = JOINED.replace('https://10.77.0.10:6443', 'https://127.0.0.1:6443');
    expect(kubeletChanges(inv, node(inv, { conf, restartOwed: true })).map(describeChange)).toEqual([
      `restart kubelet (a run stopped after it pointed ${KUBELET_CONF} at the local proxy and before it restarted kubelet, which may still use its old server)`,
    ]);
    expect(kubeletChanges(inv, node(inv, { conf, restartOwed: true, active: 'inactive' }))).toEqual([]);
  });

  it('--dry-run shows the diff of the server line, no key', () => {
    const inv = inventory();
    const f = node(inv, { conf: INIT.replace('users:\n', 'users:\n- name: extra\n  user:\n    token: abcdef.0123456789abcdef\n') });
    const text = formatPlan(inv, [planRoles(inv, 'w1', f, TASKS)], { diffs: true, secrets: [] });
    expect(text).toContain('node-proxy-kubelet   ~ update /etc/kubernetes/kubelet.conf');
    expect(text).toContain('    -    server: https://10.77.0.10:6443');
    expect(text).toContain('    +    server: https://127.0.0.1:6443');
    expect(text).not.toContain('LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t');
  });

  it('a host kube-proxy (kube-proxy.service and its kubeconfig on the host) is pointed the same way', () => {
    const inv = inventory();
    const f = node(inv, { kubeProxyConf: JOINED, kubeProxyUnit: true });
    expect(kubeletChanges(inv, f).map(describeChange)).toEqual([
      `update ${KUBELET_CONF}`,
      `restart kubelet (it reads ${KUBELET_CONF} only at start: the local proxy, not https://10.77.0.10:6443)`,
      `update ${KUBE_PROXY_CONF}`,
      `restart kube-proxy (it reads ${KUBE_PROXY_CONF} only at start: the local proxy, not https://10.77.0.10:6443)`,
    ]);
  });
});

describe('node-proxy-kubelet: preflight, before anything changes', () => {
  const inv = inventory();
  const refused = async (f: HostFacts) => (await preflight(inv, f)).filter((p) => !p.warning).map((p) => `${p.host} [${p.check}]: ${p.message}`);

  it('a kubeconfig with no server: line: refused, naming the host, the file and why', async () => {
    expect(await refused(node(inv, { conf: JOINED.replace('    server: https://10.77.0.10:6443\n', '') }))).toEqual([
      `w1 [node-proxy-kubelet]: ${KUBELET_CONF}: it has no \`server:\` line: kha cannot tell where this client connects (node_proxy.kubelet)`,
    ]);
  });

  it('two clusters, or not a kubeconfig: refused', async () => {
    expect(await refused(node(inv, { conf: 'kind: Pod\n' }))).toHaveLength(1);
    expect(await refused(node(inv, { conf: JOINED.replace('contexts:', '- cluster:\n    server: https://10.0.0.1:6443\n  name: b\ncontexts:') }))).toHaveLength(1);
  });

  it('before kubeadm join (no kubeconfig, no kubelet running): a warning, not a refusal', async () => {
    const problems = await preflight(inv, node(inv, { conf: null, active: 'inactive' }));
    expect(problems).toEqual([
      { host: 'w1', check: 'node-proxy-kubelet', warning: true, message: `no ${KUBELET_CONF} yet (before kubeadm init or join): the kubelet is pointed at the proxy by the first apply after it` },
    ]);
  });

  it('a kubelet running without kubeadm\'s kubeconfig: refused', async () => {
    expect((await refused(node(inv, { conf: null })))[0]).toContain('kubelet.service runs but there is no /etc/kubernetes/kubelet.conf');
  });

  it('a kubelet that does not run: refused (kha could not confirm it came back)', async () => {
    expect((await refused(node(inv, { active: 'failed' })))[0]).toContain('kubelet.service is failed');
  });

  it('a kube-proxy kubeconfig on the host with no kube-proxy.service: left alone, said', async () => {
    const problems = await preflight(inv, node(inv, { kubeProxyConf: JOINED }));
    expect(problems.map((p) => [p.warning, p.message])).toEqual([[true, expect.stringContaining('kube-proxy of a kubeadm cluster reads its kubeconfig from the kube-proxy ConfigMap')]]);
  });

  it("the apiserver's certificate without 127.0.0.1: refused, with how to add it", async () => {
    const problems = await preflight(inv, node(inv), served(['10.77.0.21', '10.77.0.10']));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ host: '10.77.0.10:6443', check: 'node-proxy-kubelet' });
    expect(problems[0]!.warning).toBeUndefined();
    expect(problems[0]!.message).toContain('does not name 127.0.0.1: a kubelet pointed at https://127.0.0.1:6443 would fail with an x509 error');
    expect(problems[0]!.message).toContain('kubeadm init phase certs apiserver');
  });

  it('no TLS answer through the VIP: a warning (the gate still confirms each kubelet)', async () => {
    const none: CertificateReader = async () => ({ subject: '', sans: { dns: [], ip: [] }, missing: [], error: 'ECONNREFUSED' });
    expect((await preflight(inv, node(inv), none)).map((p) => p.warning)).toEqual([true]);
  });

  it('nothing to point (already pointed): the certificate is not read', async () => {
    const never: CertificateReader = async () => {
      throw new Error('read');
    };
    expect(await preflight(inv, node(inv, { conf: JOINED.replace('https://10.77.0.10:6443', 'https://127.0.0.1:6443') }), never)).toEqual([]);
  });

  it('a good kubeconfig, or node_proxy.kubelet off: nothing to say', async () => {
    expect(await preflight(inv, node(inv))).toEqual([]);
    const off = inventory(false);
    expect(await preflight(off, node(off, { conf: 'kind: Pod\n' }))).toEqual([]);
  });
});

describe('the apiservers\' certificate names 127.0.0.1 when kubelets use the local proxy', () => {
  it('certSANs and kha kubeadm\'s configuration', () => {
    expect(certSans(inventory())).toEqual(['10.77.0.10', '127.0.0.1']);
    expect(certSans(inventory(false))).toEqual(['10.77.0.10']);
    expect(kubeadmHandoff(inventory()).config).toContain('    - "127.0.0.1"\n');
    expect(kubeadmHandoff(inventory(false)).config).not.toContain('127.0.0.1');
  });
});

describe('carrying it out', () => {
  const inv = inventory();
  const changes = kubeletChanges(inv, node(inv));
  const restart = changes[1]!;

  it('the restart: systemctl restart, then active; failing, the kubeconfig is put back and the kubelet restarted on it', async () => {
    const rollback = new Rollback();
    rollback.record('kubelet', KUBELET_CONF, `${KUBELET_CONF}.kha-bak`);
    const session = new FakeSession('w1', [
      { command: 'systemctl restart kubelet && sleep 0.3 && systemctl is-active --quiet kubelet', result: { code: 3, stderr: 'failed' } },
      { command: /journalctl -u kubelet/, result: { stdout: 'kubelet: error' } },
      { command: `mv -f ${KUBELET_CONF}.kha-bak ${KUBELET_CONF} && { systemctl restart kubelet && sleep 0.3 && systemctl is-active --quiet kubelet; }` },
    ]);
    await expect(applyChange(session, restart, rollback)).rejects.toThrow(`kha put back ${KUBELET_CONF}: kubelet runs on the previous files again`);
  });

  it('the write makes the owed-restart file in the step that renames the kubeconfig in; the restart removes it once the kubelet runs', async () => {
    const session = new FakeSession('w1', [
      { command: /^mkdir -p / },
      { command: /healthz|kha-health|for i in/ },
      { command: /&& touch \/var\/lib\/kha\/kubelet\.restart-pending && mv -f \/etc\/kubernetes\/\.kha-new\.kubelet\.conf \/etc\/kubernetes\/kubelet\.conf$/ },
      { command: 'systemctl restart kubelet && sleep 0.3 && systemctl is-active --quiet kubelet' },
      { command: "rm -f /var/lib/kha/kubelet.restart-pending" },
    ]);
    const rollback = new Rollback();
    for (const c of changes) await applyChange(session, c, rollback);
    session.assertDone();
  });

  it('the gate confirms what this run pointed, only that', () => {
    expect(pointedIn(changes)).toEqual([{ service: 'kubelet', path: KUBELET_CONF, before: 'https://10.77.0.10:6443' }]);
    expect(pointedIn([changes[0]!])).toEqual([]);
  });

  it('the gate: the kubelet seen connected through the proxy, with haproxy\'s session counts', async () => {
    const lines: string[] = [];
    const session = new FakeSession('w1', [
      { command: /kha-health/, result: { stdout: '200\n' } },
      { command: /svc=kubelet; port=6443/, result: { stdout: 'ok 127.0.0.1:51234 4242\n' } },
      { command: /kha-stats;csv/, result: { stdout: '1 3\n' } },
      { command: /systemctl is-active --quiet kube-proxy/, result: { stdout: 'no\n' } },
    ]);
    await proxyAnswers(session, inv, true, (l) => lines.push(l), changes);
    expect(lines).toEqual([
      'w1: the proxy answers on 127.0.0.1:6443 (health 200: an apiserver is up behind it)',
      "w1: kubelet came back through the proxy (pid 4242, connected from 127.0.0.1:51234 to 127.0.0.1:6443); haproxy's frontend has 1 sessions now, 3 since it started",
    ]);
  });

  it('the gate after a change of the proxy alone (a switch of software): a kubelet already using it must be connected through it again', async () => {
    const proxyRestart: Change[] = [{ kind: 'service.start', service: 'kha-node-proxy', marker: { path: '/var/lib/kha/kha-node-proxy.loaded', digest: 'x' } }];
    const script = (connected: string) => [
      { command: /kha-health/, result: { stdout: '200\n' } },
      { command: usesProxyCommand({ path: KUBELET_CONF, service: 'kubelet' }, 'https://127.0.0.1:6443'), result: { stdout: 'yes\n' } },
      { command: /svc=kubelet; port=6443/, result: { stdout: connected } },
      { command: /systemctl is-active --quiet kube-proxy/, result: { stdout: 'no\n' } },
    ];
    const lines: string[] = [];
    await proxyAnswers(new FakeSession('w1', script('ok 127.0.0.1:40000 77\n')), inv, true, (l) => lines.push(l), proxyRestart);
    expect(lines[1]).toBe('w1: kubelet is connected through the proxy (pid 77, from 127.0.0.1:40000)');
    await expect(proxyAnswers(new FakeSession('w1', script('no its process (pid 77) holds no connection to 127.0.0.1:6443\n').slice(0, 3)), inv, true, () => undefined, proxyRestart)).rejects.toThrow(
      `kubelet uses the proxy (${KUBELET_CONF} says https://127.0.0.1:6443) but is not connected through it within 30 s of this run's changes`,
    );
    expect(usesProxyCommand({ path: KUBELET_CONF, service: 'kubelet' }, 'https://127.0.0.1:6443')).toContain('https://127\\.0\\.0\\.1:6443');
  });

  it('the gate: a kubelet that does not come back through the proxy is put back, and the host fails', async () => {
    const session = new FakeSession('w1', [
      { command: /kha-health/, result: { stdout: '200\n' } },
      { command: /svc=kubelet; port=6443/, result: { stdout: 'no its process (pid 4242) holds no connection to 127.0.0.1:6443\n' } },
      { command: `mv -f ${KUBELET_CONF}.kha-bak ${KUBELET_CONF} && systemctl restart kubelet` },
    ]);
    await expect(proxyAnswers(session, inv, true, () => undefined, changes)).rejects.toThrow(
      `kubelet did not come back through the proxy within 30 s: its process (pid 4242) holds no connection to 127.0.0.1:6443; kha put back ${KUBELET_CONF} and restarted kubelet: it uses https://10.77.0.10:6443 again`,
    );
  });
});
