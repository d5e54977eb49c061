import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { kubeadmHandoff } from '../../src/kubeadm/handoff.js';
import { apiserverSans, endpointHost, firstServiceIp, parseKubeadmConfig } from '../../src/lab/kubeadm.js';
import { packageRoot } from '../../src/paths.js';

// The lab's kubeadm stand-in gives a certificate what kubeadm would, and
// nothing more: the SANs come from the file kha printed.

describe('SANs as kubeadm makes them', () => {
  const inv = (() => {
    const r = parseInventory(readFileSync(join(packageRoot, 'examples', 'hosts.yaml'), 'utf8'), 'hosts.yaml', {});
    if (!r.ok) throw new Error('example');
    return r.inventory;
  })();

  it("from kha's configuration: the VIP and the DNS name, besides kubeadm's own names", () => {
    const cfg = parseKubeadmConfig(kubeadmHandoff(inv).config, 'kc.yaml');
    expect(apiserverSans(cfg, { name: 'm1', address: '10.77.0.21' })).toEqual({
      dns: ['m1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'kubeapi.example'],
      ip: ['10.96.0.1', '10.77.0.21', '10.77.0.10'],
    });
  });

  it('without controlPlaneEndpoint or certSANs (a cluster built before its endpoint): no VIP', () => {
    const cfg = parseKubeadmConfig('apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nnetworking:\n  serviceSubnet: 10.100.0.0/16\n  dnsDomain: corp\n', 'old.yaml');
    expect(apiserverSans(cfg, { name: 'm2', address: '10.77.0.22' })).toEqual({
      dns: ['m2', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.corp'],
      ip: ['10.100.0.1', '10.77.0.22'],
    });
  });

  it('an endpoint given as an IP is an IP SAN even without certSANs (kubeadm adds the endpoint host)', () => {
    const cfg = parseKubeadmConfig('apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: 10.77.0.10:6443\n', 'x.yaml');
    expect(apiserverSans(cfg, { name: 'm1', address: '10.77.0.21' }).ip).toContain('10.77.0.10');
  });

  it.each([
    ['10.96.0.0/12', '10.96.0.1'],
    ['172.16.5.0/24', '172.16.5.1'],
    ['10.96.0.0/12,fd00::/108', '10.96.0.1'],
  ])('the first service address of %s is %s', (cidr, ip) => {
    expect(firstServiceIp(cidr)).toBe(ip);
  });

  it.each([
    ['10.77.0.10:6443', '10.77.0.10'],
    ['kubeapi.example:8443', 'kubeapi.example'],
    ['[fd00::10]:6443', 'fd00::10'],
    ['kubeapi.example', 'kubeapi.example'],
  ])('the host of %s is %s', (endpoint, host) => {
    expect(endpointHost(endpoint)).toBe(host);
  });

  it.each([
    ['kind: InitConfiguration\napiVersion: kubeadm.k8s.io/v1beta4\n', /no ClusterConfiguration/],
    ['apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\n', /kubeadm reads kubeadm\.k8s\.io\/v1beta3 or kubeadm\.k8s\.io\/v1beta4/],
    ['apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  certSANs: 10.0.0.1\n', /certSANs must be a list/],
    ['a: [', /not YAML/],
  ])('refuses a file kubeadm would refuse: %j', (text, message) => {
    expect(() => parseKubeadmConfig(text, 'f.yaml')).toThrow(message);
  });
});
