import { DRILLS, type DrillName } from '../drill/drills.js';
import { CHECKS } from '../preflight/checks.js';
import type { Topology } from './topology.js';

// No VIP and no load balancer (source 001): each node's kubelet reaches every
// apiserver through the proxy on its own 127.0.0.1, and that proxy is the
// whole endpoint. hosts.yaml says so by listing no lb (inventory/semantic.ts
// then asks for nodes, or node_proxy.masters). No host carries an endpoint
// of its own, so this kind has no files, tasks, services or host sets; its
// order is playbooks/proxy-only.yaml, the proxy role's stage after
// preflight. The drills that break the VIP have nothing to break; those
// measured from a node through its proxy are the whole of verify-failover.

const NO_VIP = "it breaks the VIP, and hosts.yaml lists no lb to hold one: each host's local proxy is its endpoint";

const FROM_A_NODE = DRILLS.filter((d) => d.from === 'node');

export const PROXY_ONLY: Topology = {
  name: 'proxy-only',
  playbook: 'proxy-only',
  files: [],
  tasks: new Map(),
  services: [],
  probe: () => ({ files: [], directories: [], services: [], sysctls: [], selinuxBooleans: [], apiservers: [] }),
  checks: CHECKS,
  hostSets: new Map(),
  gates: new Map(),
  finalChecks: new Map(),
  drills: FROM_A_NODE,
  drillsNotApplicable: new Map<DrillName, string>(DRILLS.filter((d) => d.from !== 'node').map((d) => [d.name, NO_VIP])),
  // No host runs keepalived or haproxy for an endpoint here: nothing serves, nothing has a VRRP state.
  serving: async () => false,
  vrrpState: async () => 'UNKNOWN',
  serviceStates: async () => ({}),
};
