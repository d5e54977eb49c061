import type { ProbeRequest } from '../../../src/facts/types.js';

/**
 * What kha asks a load balancer (plan.ts probeRequest for examples/hosts.yaml),
 * spelled out so the recorded fixtures do not move when the planner does.
 */
export const KHA_REQUEST: ProbeRequest = {
  vip: '10.77.0.10',
  files: [
    '/etc/keepalived/kha-check-haproxy.sh',
    '/etc/keepalived/keepalived.conf',
    '/etc/haproxy/haproxy.cfg',
    '/etc/sysctl.d/90-kha.conf',
    '/etc/systemd/system/keepalived.service.d/kha-restart.conf',
    '/var/lib/kha/haproxy.loaded',
    '/var/lib/kha/keepalived.loaded',
    '/etc/selinux/config',
    '/etc/ufw/before.rules',
  ],
  directories: ['/var/lib/haproxy', '/var/lib/kha'],
  services: ['haproxy', 'keepalived'],
  sysctls: ['net.ipv4.ip_nonlocal_bind'],
  selinuxBooleans: ['haproxy_connect_any', 'keepalived_connect_any'],
  apiservers: [
    { name: 'm1', address: '10.77.0.21', port: 6443 },
    { name: 'm2', address: '10.77.0.22', port: 6443 },
    { name: 'm3', address: '10.77.0.23', port: 6443 },
  ],
};
