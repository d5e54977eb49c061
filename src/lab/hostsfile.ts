// The hosts.yaml `kha lab up` writes: the README's hosts.yaml contract, filled in for
// the lab, plus `operator.netns` so kha reaches the machines from the
// controller namespace (the only place the lab's addresses exist).
import { CONTROLLER_NS, PREFIX_LEN, type LabFiles, type MachineSpec } from './state.js';

export function hostsYaml(files: LabFiles, machines: readonly MachineSpec[], vip: string): string {
  const lbs = machines.filter((m) => m.role === 'lb');
  const masters = machines.filter((m) => m.role === 'master');
  const workers = machines.filter((m) => m.role === 'worker');
  const lines = [
    '# Written by `kha lab up` for the lab on this machine; `kha lab down` removes it.',
    '# kha runs its network side inside the controller namespace named under operator.netns.',
    'cluster:',
    `  vip: ${vip}/${PREFIX_LEN}`,
    '  port: 6443',
    'ssh:',
    '  user: root',
    '  port: 22',
    `  identity_file: ${files.key}`,
    `  known_hosts: ${files.knownHosts}`,
    'keepalived:',
    '  virtual_router_id: 51',
    '  unicast: true',
    'security:',
    '  selinux: keep',
    '  firewall: auto',
    'operator:',
    `  netns: ${CONTROLLER_NS}`,
    'lb:',
    ...lbs.flatMap((m) => [`  - name: ${m.name}`, `    address: ${m.address}`, '    interface: eth0']),
    'masters:',
    ...masters.flatMap((m) => [`  - name: ${m.name}`, `    address: ${m.address}`, '    apiserver_port: 6443']),
  ];
  if (workers.length > 0) {
    lines.push(`# workers (no key for them in hosts.yaml yet): ${workers.map((w) => `${w.name} ${w.address}`).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
