import type { Inventory, LoadBalancer } from '../inventory/model.js';

// The shape of a render catalogue: every file a topology writes, as data:
// where it goes, with which mode, which service reads it and how the real
// validator checks it before it is swapped in. Each topology lists its own
// (src/topology/*/files.ts); the renderer and `apply` stay the same.

export type Service = 'keepalived' | 'haproxy' | 'sysctl' | 'systemd' | 'firewall';

export interface FileSpec {
  id: string;
  template: string;
  path: string;
  mode: number;
  service: Service;
  /** Shell command (see validators.ts) checking a candidate at {file} on the host before the swap. */
  validate?: string;
  /** Files with secrets are never shown in diffs unredacted. */
  secret?: boolean;
  /** Which load balancers get it; every load balancer when left out. */
  when?: (inv: Inventory, lb: LoadBalancer) => boolean;
  context: (inv: Inventory, lb: LoadBalancer, iface: string) => object;
}

export interface RenderedFile {
  spec: FileSpec;
  path: string;
  mode: number;
  content: string;
}
