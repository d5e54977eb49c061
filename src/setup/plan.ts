import type { EndpointTopologyName } from '../topology/topology.js';

// What the wizard settled on, and why: every value that goes into hosts.yaml
// carries the reason it was chosen, so the file explains itself.

export const TOPOLOGIES: ReadonlyArray<{ value: EndpointTopologyName; name: string; description: string }> = [
  {
    value: 'dedicated',
    name: 'dedicated load balancers in front of the masters',
    description: 'keepalived and haproxy on two or more hosts of their own (the source documents 000 and 003)',
  },
  {
    value: 'on-masters',
    name: 'keepalived + haproxy on the masters themselves',
    description: 'no extra hosts: haproxy listens on another port (8443) in front of each local apiserver (source 004)',
  },
  {
    value: 'static-pods',
    name: 'keepalived + haproxy as static pods of the masters\' kubelets',
    description: 'no packages installed: the kubelet runs keepalived and haproxy from images you name; kha writes their files before kubeadm init (source 002)',
  },
];

/** Whether the masters carry the endpoint themselves (the load balancers are the masters). */
export function onTheMasters(topology: EndpointTopologyName): boolean {
  return topology !== 'dedicated';
}

/** A value and the sentence that justifies it, written as a comment above it. */
export interface Chosen<T> {
  value: T;
  why: string;
}

export interface PlannedHost {
  name: string;
  address: string;
  /** Comments for this host: what was found on it. */
  notes: string[];
}

export interface PlannedLb extends PlannedHost {
  interface: Chosen<string>;
  priority: Chosen<number>;
}

export type SudoPassword = { kind: 'none' } | { kind: 'env'; variable: string } | { kind: 'literal'; value: string };

export interface SetupPlan {
  topology: EndpointTopologyName;
  vip: Chosen<{ address: string; prefix: number }>;
  port: Chosen<number>;
  ssh: { user: string; port: number; identityFile?: string; knownHosts: string; sudo: boolean; sudoPassword: SudoPassword };
  routerId: Chosen<number>;
  lbs: PlannedLb[];
  masters: PlannedHost[];
  /** static-pods only: hosts.yaml's static_pods. */
  staticPods?: { keepalivedImage: Chosen<string>; haproxyImage: Chosen<string>; manifestsDir: Chosen<string> };
}
