import { DEDICATED } from './dedicated/index.js';
import type { Topology } from './topology.js';

// keepalived and haproxy on the masters themselves (source 004). hosts.yaml
// says so by listing each master under lb too; the endpoint is built the
// dedicated way, only haproxy must leave the VIP's port to no apiserver
// (inventory/semantic.ts), and kubeadm is told each apiserver's own port.

export const ON_MASTERS: Topology = {
  ...DEDICATED,
  name: 'on-masters',
  summary: 'keepalived and haproxy on the masters themselves, haproxy on a port of its own in front of each local apiserver',
};
