import type { Inventory, LoadBalancer } from '../inventory/model.js';

// The shape of a render catalogue: every file a topology writes, as data:
// where it goes, with which mode, which service reads it and how the real
// validator checks it before it is swapped in. Each topology lists its own
// (src/topology/*/files.ts); the renderer and `apply` stay the same.

// 'kha-node-proxy': the local proxy on 127.0.0.1 (docs/node-proxy.md), a service of its own,
// named as its systemd unit so that a file's service is the unit apply reloads.
export type Service = 'keepalived' | 'haproxy' | 'sysctl' | 'systemd' | 'firewall' | 'kha-node-proxy' | KubeClient;

/** The node's own Kubernetes clients whose kubeconfig kha points at the local proxy (node_proxy.kubelet, node-proxy/kubelet.ts). */
export type KubeClient = 'kubelet' | 'kube-proxy';

/** What a file is, whichever host gets it: what the renderer, the tasks and apply read of a rendered file. */
export interface FileKind {
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
  /**
   * In a kubelet's staticPodPath, which takes every file there but dotfiles
   * for a Pod: its backup must be a dotfile too (execute/apply-change.ts backupPath).
   */
  kubeletReads?: boolean;
}

/**
 * A file of one role's catalogue: `H` is the host of that role, a load
 * balancer for a topology's files (with the interface that carries the VIP),
 * a proxy host for the local proxy's (src/node-proxy/files.ts).
 */
export interface FileSpec<H = LoadBalancer> extends FileKind {
  /** Which hosts of the role get it; every one when left out. */
  when?: (inv: Inventory, host: H) => boolean;
  context: (inv: Inventory, host: H, iface: string) => object;
}

export interface RenderedFile {
  spec: FileKind;
  path: string;
  mode: number;
  content: string;
}
