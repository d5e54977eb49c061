import { InternalError } from '../errors.js';
import type { Secret } from '../secret.js';
import type { HostsFile } from './schema.js';

// The typed inventory every later stage (facts, plan, render, drills) reads.
// Defaults are applied and derived values (VRRP version, priorities, who is
// primary) are decided here, once.

export interface SshSettings {
  user: string;
  port: number;
  identityFile?: string;
  knownHosts: string;
  sudo: boolean;
  sudoPassword?: Secret;
  jump?: string;
  connectTimeoutS: number;
}

export interface LoadBalancer {
  name: string;
  address: string;
  interface?: string;
  priority: number;
  /** The highest priority: started first, and what the VIP settles on. */
  primary: boolean;
  ssh: SshSettings;
}

export interface Master {
  name: string;
  address: string;
  apiserverPort: number;
  ssh: SshSettings;
}

/** A host that is neither load balancer nor master: it gets the local proxy (hosts.yaml nodes). */
export interface Node {
  name: string;
  address: string;
  ssh: SshSettings;
}

/**
 * The local proxy on 127.0.0.1 (hosts.yaml node_proxy, docs/node-proxy.md).
 * Its checks use `Inventory.haproxy`'s timings: the same apiservers, checked
 * the same way as from the load balancers.
 */
export interface NodeProxySettings {
  port: number;
  software: 'haproxy' | 'nginx';
  healthPort: number;
  /** The masters get the proxy too, so their kubelets stop using the VIP. */
  masters: boolean;
  /** Each proxy host's kubelet (and host kube-proxy) is pointed at the proxy: its kubeconfig's server rewritten (node-proxy/kubelet.ts). */
  kubelet: boolean;
  /** The proxy's own check interval, where hosts.yaml sets one (else the haproxy section's). */
  checkInterMs?: number;
  /** Present when the proxy runs as a static pod of each host's kubelet (hosts.yaml node_proxy.static_pod), not as a service. */
  staticPod?: NodeProxyPod;
}

/** client-go's HTTP/2 health check, as a kubelet reads it from its environment. */
export interface KubeletSettings {
  http2ReadIdleTimeoutS: number;
  http2PingTimeoutS: number;
}

/** The proxy as a static pod: the image (defaults applied) and the kubelet's staticPodPath. */
export interface NodeProxyPod {
  image: string;
  manifestsDir: string;
}

export interface Vrrp {
  version: 2 | 3;
  advertInt: number;
  routerId: number;
  authPass?: Secret;
  unicast: boolean;
  preempt: boolean;
  preemptDelay: number;
  garpMasterDelay: number;
  garpMasterRepeat: number;
  garpMasterRefresh: number;
  check: { interval: number; timeout: number; fall: number; rise: number };
}

export type HaproxySettings = HostsFile['haproxy'];
export type SecuritySettings = HostsFile['security'];

export interface DrillSettings {
  partitionSeconds: number;
  /** Per drill name, in ms; drills without an entry use limits derived from the timing. */
  maxOutageMs: Record<string, number>;
}

/** keepalived and haproxy as static pods of the masters' kubelets (hosts.yaml static_pods). */
export interface StaticPodSettings {
  keepalivedImage: string;
  haproxyImage: string;
  /** The kubelet's staticPodPath. */
  manifestsDir: string;
}

export interface Vip {
  address: string;
  prefix: number | null;
}

export interface Inventory {
  /** The file it came from, as the user named it (for messages). */
  file: string;
  /** The address the load balancers hold; absent when there are none and each host's local proxy is the only endpoint (source 001). */
  vip?: Vip;
  /** The VIP's port (meaningless without one). */
  port: number;
  dnsName?: string;
  keepalived: Vrrp;
  haproxy: HaproxySettings;
  security: SecuritySettings;
  drills: DrillSettings;
  operatorNetns?: string;
  /** Present when hosts.yaml has static_pods: the endpoint runs as static pods (topology/static-pods). */
  staticPods?: StaticPodSettings;
  lbs: LoadBalancer[];
  masters: Master[];
  /** hosts.yaml nodes; empty when there are none. */
  nodes: Node[];
  /** Present when some host gets the local proxy (nodes listed, or node_proxy.masters): the settings, defaults applied. */
  nodeProxy?: NodeProxySettings;
  /** Present when hosts.yaml asks kha to set client-go's HTTP/2 health check for the kubelets it manages (src/kubelet). */
  kubelet?: KubeletSettings;
  /** Facts worth telling the user that are not errors (derived choices). */
  notes: string[];
}

/**
 * How long each run of keepalived's check keeps asking haproxy
 * (templates/kha-check-haproxy.sh.ejs), in centiseconds: its timeout less a
 * margin for the script's own start and end, so that keepalived never kills
 * a healthy check and counts a failure.
 */
export function checkWatchCs(check: Vrrp['check']): number {
  return check.timeout * 100 - CHECK_MARGIN_CS;
}
const CHECK_MARGIN_CS = 25;
/** The check's pace within a run: the pause between two answered questions, the shorter one before asking again after a failure, and how long a question waits for its answer (a hung haproxy fails after two). */
export const CHECK_PACE = { pauseMs: 100, retryMs: 50, answerMs: 300 } as const;

/**
 * The longest a dead haproxy (its port refused) goes unnoticed by keepalived:
 * a death between two runs waits for the next run, one during a run for the
 * next question; then the second question, 50 ms later, fails the run; and
 * each further failure `fall` needs is a run one interval later.
 */
export function haproxyDeathNoticedMs(check: Vrrp['check']): number {
  const gap = check.interval * 1000 - checkWatchCs(check) * 10;
  return Math.max(gap, CHECK_PACE.pauseMs) + CHECK_PACE.retryMs + (check.fall - 1) * check.interval * 1000;
}

/** The timings a node's local proxy checks the apiservers with: the haproxy section's, at the proxy's own interval where it has one. */
export function proxyCheckSettings(inv: Inventory): HaproxySettings {
  const inter = inv.nodeProxy?.checkInterMs;
  return inter === undefined ? inv.haproxy : { ...inv.haproxy, check_inter_ms: inter };
}

/**
 * The VIP, where only a cluster with load balancers gets (their files, their
 * checks, their drills): the inventory's checks refuse load balancers without
 * a VIP, so its absence here is kha's mistake, not the user's.
 */
export function vipOf(inv: Inventory): Vip {
  if (!inv.vip) throw new InternalError(`${inv.file}: the VIP was asked for, and this cluster has none (no load balancers)`);
  return inv.vip;
}

/** The VIP as keepalived writes it: with the subnet's prefix, or /32. */
export function vipCidr(inv: Inventory): string {
  const vip = vipOf(inv);
  return `${vip.address}/${vip.prefix ?? 32}`;
}

