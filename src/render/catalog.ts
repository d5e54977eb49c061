import type { Inventory, LoadBalancer } from '../inventory/model.js';

// The shape of a render catalogue: every file a topology writes, as data:
// where it goes, with which mode, which service reads it and how the real
// validator checks it before it is swapped in. Each topology lists its own
// (src/topology/*/files.ts); the renderer and `apply` stay the same.

export type Service = 'keepalived' | 'haproxy' | 'sysctl' | 'systemd' | 'firewall';

export interface FileSpec {
  id: string;
  /** A template under templates/, or a function that makes the text from the context (a manifest serialized from a typed object). */
  template: string | ((context: object) => string);
  path: string;
  mode: number;
  service: Service;
  /** Shell command (see validators.ts) checking a candidate at {file} on the host before the swap. */
  validate?: string;
  /** In-process check of the rendered text (a Pod manifest against the Kubernetes schema): what it refuses, empty when fine. */
  check?: (content: string) => string[];
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
