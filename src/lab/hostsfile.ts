// The hosts.yaml `kha lab up` writes: the README's hosts.yaml contract, filled in for
// the lab, plus `operator.netns` so kha reaches the machines from the
// controller namespace (the only place the lab's addresses exist).
import { CONTROLLER_NS, PREFIX_LEN, type LabFiles, type MachineSpec, type StaticPodsLab } from './state.js';

/** The VIP's port when the masters carry the endpoint: their apiservers hold 6443 (source 004). */
export const ON_MASTERS_PORT = 8443;

export function hostsYaml(
  files: LabFiles,
  machines: readonly MachineSpec[],
  vip: string,
  endpointOnMasters = false,
  staticPods?: StaticPodsLab,
  proxyPods?: StaticPodsLab,
): string {
  const masters = machines.filter((m) => m.role === 'master');
  const lbs = endpointOnMasters ? masters : machines.filter((m) => m.role === 'lb');
  const workers = machines.filter((m) => m.role === 'worker');
  // No load balancer (--lbs 0): no VIP either, each worker's local proxy is the endpoint (source 001).
  const withVip = lbs.length > 0;
  const lines = [
    '# Written by `kha lab up` for the lab on this machine; `kha lab down` removes it.',
    '# kha runs its network side inside the controller namespace named under operator.netns.',
    ...(withVip
      ? [
          'cluster:',
          `  vip: ${vip}/${PREFIX_LEN}`,
          ...(endpointOnMasters
            ? [`  port: ${ON_MASTERS_PORT}   # each master's apiserver holds 6443; haproxy on ${ON_MASTERS_PORT} spreads over all of them`]
            : ['  port: 6443']),
        ]
      : ['# No load balancer, so no VIP and no cluster: section: each worker reaches the apiservers through its local proxy.']),
    'ssh:',
    '  user: root',
    '  port: 22',
    `  identity_file: ${files.key}`,
    `  known_hosts: ${files.knownHosts}`,
    ...(withVip ? ['keepalived:', '  virtual_router_id: 51', '  unicast: true'] : []),
    'security:',
    '  selinux: keep',
    '  firewall: auto',
    'operator:',
    `  netns: ${CONTROLLER_NS}`,
    ...(staticPods
      ? [
          '# keepalived and haproxy as static pods; the lab built these images from the Debian packages of its apt repository',
          '# and every master sees them in a read-only image store (kha lab up --static-pods).',
          'static_pods:',
          `  keepalived_image: ${staticPods.keepalivedImage}`,
          `  haproxy_image: ${staticPods.haproxyImage}`,
        ]
      : []),
    ...(withVip ? ['lb:', ...lbs.flatMap((m) => [`  - name: ${m.name}`, `    address: ${m.address}`, '    interface: eth0'])] : []),
    'masters:',
    ...masters.flatMap((m) => [`  - name: ${m.name}`, `    address: ${m.address}`, '    apiserver_port: 6443']),
  ];
  if (workers.length > 0) {
    // Every worker gets the local proxy on 127.0.0.1 (docs/node-proxy.md);
    // the section spells out its defaults so the lab's file shows what to edit.
    lines.push(
      'nodes:',
      ...workers.flatMap((w) => [`  - name: ${w.name}`, `    address: ${w.address}`]),
      '# The local proxy on every node: 127.0.0.1:<port> in front of every apiserver, health on 127.0.0.1:<health_port>/kha-health.',
      'node_proxy:',
      // Without a VIP the masters' kubelets need the proxy too (source 001), beside their apiserver's 6443.
      ...(withVip ? ['  port: 6443'] : ['  port: 7443          # the masters get the proxy too, and their apiservers hold 6443', '  masters: true']),
      '  software: haproxy   # or nginx',
      '  health_port: 8405',
      "  kubelet: false      # true: apply points each worker's kubelet (the lab's stand-in, after kha lab kubeadm join) at the proxy",
      ...(proxyPods
        ? [
            "  # As a static pod of each worker's kubelet stand-in (kha lab up --proxy-pods), with the lab's haproxy image.",
            '  static_pod:',
            `    image: ${proxyPods.haproxyImage}`,
          ]
        : []),
    );
  }
  return `${lines.join('\n')}\n`;
}
