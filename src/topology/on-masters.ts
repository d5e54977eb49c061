import { DEDICATED } from './dedicated/index.js';
import type { Topology } from './topology.js';

// keepalived and haproxy on the masters themselves (source 004). hosts.yaml
// says so by listing each master under lb too. The endpoint is built the
// dedicated way; what differs is the ports: haproxy and the apiserver on one
// host need one each (inventory/semantic.ts), and kubeadm is told the
// apiserver's (kubeadm/handoff.ts).

export const ON_MASTERS: Topology = {
  ...DEDICATED,
  name: 'on-masters',
};
