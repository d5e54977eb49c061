import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/model.js';
import { apiFor, kubeadmHandoff, parseKubernetesVersion } from '../../src/kubeadm/handoff.js';
import { packageRoot } from '../../src/paths.js';
import { runKha, tempDirForFile } from './cli-harness.js';

// `kha kubeadm`: the endpoint handed to kubeadm, from hosts.yaml alone.

const example = join(packageRoot, 'examples', 'hosts.yaml');
const colocated = join(packageRoot, 'examples', 'colocated.yaml');

function load(file: string, patch: (t: string) => string = (t) => t): Inventory {
  const r = parseInventory(patch(readFileSync(file, 'utf8')), file, { PW: 'Kub3pw' });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

const tmp = tempDirForFile('kubeadm');

const kha = (...args: string[]) => runKha(args, { PW: 'Kub3pw' });

describe('the configuration API kubeadm reads', () => {
  it.each([
    ['v1.22.0', 'kubeadm.k8s.io/v1beta3'],
    ['1.30.14', 'kubeadm.k8s.io/v1beta3'],
    ['v1.31.0', 'kubeadm.k8s.io/v1beta4'],
    ['1.35.1', 'kubeadm.k8s.io/v1beta4'],
  ])('%s -> %s', (v, api) => {
    expect(apiFor(parseKubernetesVersion(v))).toBe(api);
    expect(parseKubernetesVersion(v).text).toBe(v.startsWith('v') ? v : `v${v}`);
  });

  it.each(['1.21.9', '1.36.0', 'v2.0.0', '1.31', 'latest', 'stable-1', '', 'v1.31.2\nx'])('refuses %j with exit 2 and the range it knows', (v) => {
    expect(() => parseKubernetesVersion(v)).toThrow(/kha knows Kubernetes 1\.22 to 1\.35/);
  });
});

describe('the handoff', () => {
  it('dedicated load balancers with a DNS name: the name is the endpoint, VIP and name are SANs', () => {
    const h = kubeadmHandoff(load(example), parseKubernetesVersion('v1.31.2'));
    expect(h.controlPlaneEndpoint).toBe('kubeapi.example:6443');
    expect(h.certSans).toEqual(['10.77.0.10', 'kubeapi.example']);
    const [init, cluster] = parseAllDocuments(h.config).map((d) => d.toJS() as Record<string, unknown>);
    expect(init).toEqual({ apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'InitConfiguration', localAPIEndpoint: { advertiseAddress: '10.77.0.21', bindPort: 6443 } });
    expect(cluster).toEqual({
      apiVersion: 'kubeadm.k8s.io/v1beta4',
      kind: 'ClusterConfiguration',
      kubernetesVersion: 'v1.31.2',
      controlPlaneEndpoint: 'kubeapi.example:6443',
      apiServer: { certSANs: ['10.77.0.10', 'kubeapi.example'] },
    });
    expect(h.init).toEqual({ master: 'm1', command: 'kubeadm init --config kubeadm-config.yaml --upload-certs' });
    expect(h.join.map((j) => j.master)).toEqual(['m2', 'm3']);
    expect(h.join[0]!.command).toMatch(/^kubeadm join kubeapi\.example:6443 .* --control-plane --certificate-key <key> --apiserver-advertise-address 10\.77\.0\.22$/);
  });

  it('without a DNS name the VIP is the endpoint', () => {
    const h = kubeadmHandoff(load(example, (t) => t.replace(/\n\s*dns_name:.*/, '')));
    expect(h.controlPlaneEndpoint).toBe('10.77.0.10:6443');
    expect(h.certSans).toEqual(['10.77.0.10']);
    expect(h.config).not.toContain('kubernetesVersion');
  });

  it('on the masters (source 004): clients use the VIP port, each apiserver binds its own', () => {
    const h = kubeadmHandoff(load(colocated));
    expect(h.controlPlaneEndpoint).toBe('10.77.0.30:8443');
    expect(h.masters).toEqual([
      { name: 'cp1', address: '10.77.0.31', bindPort: 6443, carriesEndpoint: true },
      { name: 'cp2', address: '10.77.0.32', bindPort: 6443, carriesEndpoint: true },
      { name: 'cp3', address: '10.77.0.33', bindPort: 6443, carriesEndpoint: true },
    ]);
    expect(h.config).toContain('bindPort: 6443');
    expect(h.config).toContain('haproxy on this host holds 8443');
  });

  it('no VIP (source 001): the first master is the endpoint, as the source has it; certSANs only for the proxy, and none without the kubelet pointed', () => {
    const proxyOnly = join(packageRoot, 'examples', 'proxy-only.yaml');
    const h = kubeadmHandoff(load(proxyOnly));
    expect(h.controlPlaneEndpoint).toBe('10.77.0.21:6443');
    expect(h.certSans).toEqual(['127.0.0.1']);
    expect(h.config).toContain("# No VIP: kubelets and joining masters reach m1's apiserver at 10.77.0.21:6443, and nothing else,");
    expect(h.join[0]!.command).toMatch(/^kubeadm join 10\.77\.0\.21:6443 /);
    const bare = kubeadmHandoff(load(proxyOnly, (t) => t.replace('kubelet: true', 'kubelet: false')));
    const cluster = parseAllDocuments(bare.config).map((d) => d.toJS() as Record<string, unknown>)[1];
    expect(cluster).toEqual({ apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'ClusterConfiguration', controlPlaneEndpoint: '10.77.0.21:6443' });
  });

  it('a master on another port joins with --apiserver-bind-port', () => {
    const h = kubeadmHandoff(load(example, (t) => t.replace('address: 10.77.0.22', 'address: 10.77.0.22\n    apiserver_port: 7443')));
    expect(h.join[0]!.command).toContain('--apiserver-bind-port 7443');
  });
});

describe('kha kubeadm', () => {
  it('prints the configuration and the next steps as YAML comments, so the whole output is still YAML', async () => {
    const r = await kha('kubeadm', example, '--kubernetes-version', '1.30.2');
    expect(r.code, r.stderr).toBe(0);
    const docs = parseAllDocuments(r.stdout);
    expect(docs.map((d) => d.errors.length)).toEqual([0, 0]);
    expect(r.stdout).toContain('# 1. on m1: kubeadm init --config kubeadm-config.yaml --upload-certs');
  });

  it('--out writes the file atomically and prints the steps naming it', async () => {
    const file = join(tmp.path, 'kc.yaml');
    writeFileSync(file, 'old');
    const r = await kha('kubeadm', example, '--out', file);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(kubeadmHandoff(load(example)).config);
    expect((statSync(file).mode & 0o777).toString(8)).toBe('644');
    expect(r.stdout).toContain('1. on m1: kubeadm init --config kc.yaml --upload-certs');
  });

  it('--json gives the same handoff to machines', async () => {
    const r = await kha('kubeadm', example, '--json', '--kubernetes-version', 'v1.31.2');
    const body = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(body).toMatchObject({ ok: true, controlPlaneEndpoint: 'kubeapi.example:6443', certSans: ['10.77.0.10', 'kubeapi.example'], kubernetesVersion: 'v1.31.2' });
  });

  it('bad input: exit 2, and never a secret (the inventory has a VRRP password)', async () => {
    const withPass = join(tmp.path, 'pass.yaml');
    writeFileSync(withPass, readFileSync(example, 'utf8').replace('virtual_router_id: 51', 'virtual_router_id: 51\n  auth_pass: Kub3pw'));
    const ok = await kha('kubeadm', withPass);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain('Kub3pw');
    const bad = await kha('kubeadm', withPass, '--kubernetes-version', '1.99.0');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('kha knows Kubernetes 1.22 to 1.35');
  });
});

describe('kha status --wait: bad input before any connection', () => {
  it.each(['-5', '0', '99999', 'soon', '1.5'])('--wait %s: exit 2', async (value) => {
    const r = await kha('status', example, `--wait=${value}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--wait .*: give whole seconds from 1 to 3600/);
  });
});
