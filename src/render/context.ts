import { InternalError } from '../errors.js';
import { CHECK_PACE, checkWatchCs, type Inventory, type LoadBalancer, vipOf } from '../inventory/model.js';
import { vipCidr } from '../inventory/model.js';
import { VERSION } from '../version.js';

// The explicit options object each template gets. Templates read nothing
// else, so what a file depends on is visible here, and a golden test of a
// context pins a file completely.

export const CHECK_SCRIPT_PATH = '/etc/keepalived/kha-check-haproxy.sh';
export const MONITOR_URI = '/kha-health';
export const STATS_URI = '/kha-stats';
/** The user keepalived runs the check script as; exists on every distribution. */
export const SCRIPT_USER = 'nobody';

export interface Header {
  version: string;
  host: string;
}

export interface KeepalivedContext {
  header: Header;
  host: { name: string; address: string; priority: number; primary: boolean };
  interface: string;
  peers: { name: string; address: string }[];
  vip: string;
  vrrp: {
    version: 2 | 3;
    advertInt: number;
    routerId: number;
    unicast: boolean;
    preempt: boolean;
    preemptDelay: number;
    garpMasterDelay: number;
    garpMasterRepeat: number;
    garpMasterRefresh: number;
    /** Revealed only here, into a 0600 file; never into output. */
    authPass: string | null;
  };
  /** `watchCs`: how long each run keeps asking haproxy (the script's second argument). */
  check: { script: string; monitorPort: number; watchCs: number; user: string; interval: number; timeout: number; fall: number; rise: number };
  /** Resets clients' connections when the VIP leaves this host alive (the release script). */
  release: string;
  lbCount: number;
}

export interface CheckScriptContext {
  header: Header;
  monitorUri: string;
  /** In centiseconds, as the script counts. */
  pace: { pauseCs: number; retryCs: number; answerCs: number };
}

export interface HaproxyContext {
  header: Header;
  /** Where haproxy logs: the host's syslog socket, or stdout in a container (which has no /dev/log; the kubelet keeps stdout). */
  log: string;
  port: number;
  bind: string;
  vip: string;
  settings: Inventory['haproxy'];
  monitorUri: string;
  statsUri: string;
  statsDir: string;
  servers: { name: string; address: string; port: number }[];
}

export interface SysctlContext {
  header: Header;
  settings: { key: string; value: string; why: string }[];
}

/** What is undone however keepalived ends: by systemd's drop-in, or by the wrapper in keepalived's pod. */
export interface KeepalivedEndContext {
  header: Header;
  /** The VIP as keepalived.conf adds it, and where: what is taken off again. */
  vip: string;
  interface: string;
  release: string;
}

export interface RestartDropInContext extends KeepalivedEndContext {
  restartSec: number;
}

export interface HaproxyDropInContext {
  header: Header;
  release: string;
}

export interface ReleaseContext {
  header: Header;
  /** The VIP's address, without its prefix. */
  vip: string;
  /** haproxy's frontend port: the connections clients hold through the VIP. */
  port: number;
  interface: string;
  /** Made a backup by a higher priority: the new holder took over already; then the connections are reset. */
  handoverS: string;
  /** After a killed keepalived, or a goodbye advert a backup missed, the backup waits three adverts and its skew (under one more). */
  silentS: string;
}

/** Where keepalived and systemd find the script that resets clients' connections when the VIP leaves a live host. */
export const RELEASE_SCRIPT_PATH = '/etc/keepalived/kha-release-connections.sh';

/** A margin over the takeover, for the new holder's gratuitous ARP to land before clients reconnect. */
const TAKEOVER_MARGIN_S = 0.1;

export function releaseContext(inv: Inventory, lb: LoadBalancer, iface: string): ReleaseContext {
  const advert = inv.keepalived.advertInt;
  return {
    header: header(lb.name),
    vip: vipOf(inv).address,
    port: inv.port,
    interface: iface,
    handoverS: (advert + TAKEOVER_MARGIN_S).toFixed(2),
    silentS: (4 * advert + TAKEOVER_MARGIN_S).toFixed(2),
  };
}

export const header = (host: string): Header => ({ version: VERSION, host });

export function keepalivedContext(inv: Inventory, lb: LoadBalancer, iface: string): KeepalivedContext {
  const k = inv.keepalived;
  return {
    header: header(lb.name),
    host: { name: lb.name, address: lb.address, priority: lb.priority, primary: lb.primary },
    interface: iface,
    peers: inv.lbs.filter((h) => h.name !== lb.name).map((h) => ({ name: h.name, address: h.address })),
    vip: vipCidr(inv),
    vrrp: {
      version: k.version,
      advertInt: k.advertInt,
      routerId: k.routerId,
      unicast: k.unicast,
      preempt: k.preempt,
      preemptDelay: k.preemptDelay,
      garpMasterDelay: k.garpMasterDelay,
      garpMasterRepeat: k.garpMasterRepeat,
      garpMasterRefresh: k.garpMasterRefresh,
      authPass: k.version === 2 && k.authPass ? k.authPass.reveal() : null,
    },
    check: { script: CHECK_SCRIPT_PATH, monitorPort: inv.haproxy.monitor_port, watchCs: checkWatchCs(k.check), user: SCRIPT_USER, ...k.check },
    release: RELEASE_SCRIPT_PATH,
    lbCount: inv.lbs.length,
  };
}

export function checkScriptContext(_inv: Inventory, lb: LoadBalancer): CheckScriptContext {
  const cs = (ms: number) => ms / 10;
  return { header: header(lb.name), monitorUri: MONITOR_URI, pace: { pauseCs: cs(CHECK_PACE.pauseMs), retryCs: cs(CHECK_PACE.retryMs), answerCs: cs(CHECK_PACE.answerMs) } };
}

/** Every master's apiserver, as haproxy and nginx name their servers. */
export function apiserverServers(inv: Inventory): HaproxyContext['servers'] {
  return inv.masters.map((m) => ({ name: m.name, address: m.address, port: m.apiserverPort }));
}

export function haproxyContext(inv: Inventory, lb: LoadBalancer): HaproxyContext {
  const socket = inv.haproxy.stats_socket;
  return {
    header: header(lb.name),
    log: '/dev/log',
    port: inv.port,
    bind: inv.haproxy.bind === 'vip' ? vipOf(inv).address : '*',
    vip: vipCidr(inv),
    settings: inv.haproxy,
    monitorUri: MONITOR_URI,
    statsUri: STATS_URI,
    statsDir: socket.slice(0, socket.lastIndexOf('/')) || '/',
    servers: apiserverServers(inv),
  };
}

/** Every kernel setting sysctlContext may write: what the probe reads to tell whether the host has them. */
export const ENDPOINT_SYSCTL_KEYS: readonly string[] = ['net.ipv4.ip_nonlocal_bind', 'net.ipv4.conf.all.arp_ignore', 'net.ipv4.conf.all.arp_announce'];

/**
 * The kernel settings of a load balancer: its keepalived runs the release
 * script (RELEASE_SCRIPT_PATH), which puts the VIP on lo for a moment.
 */
export function sysctlContext(inv: Inventory, lb: LoadBalancer): SysctlContext {
  const settings: SysctlContext['settings'] = [
    {
      key: 'net.ipv4.conf.all.arp_ignore',
      value: '1',
      why: "answer ARP only for addresses on the interface asked: when the VIP leaves, the release script puts it on lo for a moment, and this host must not claim it meanwhile (kube-proxy's IPVS mode sets the same)",
    },
    {
      key: 'net.ipv4.conf.all.arp_announce',
      value: '2',
      why: "ask ARP from the interface's own address: the RSTs the release script sends come from the VIP on lo, and an ARP request naming the VIP as its sender would point clients back at this host",
    },
  ];
  if (inv.haproxy.bind === 'vip') {
    settings.push({
      key: 'net.ipv4.ip_nonlocal_bind',
      value: '1',
      why: 'haproxy binds the VIP itself (haproxy.bind: vip); a backup does not hold the VIP and could not start without this',
    });
  }
  return { header: header(lb.name), settings };
}

export function keepalivedEndContext(inv: Inventory, lb: LoadBalancer, iface: string): KeepalivedEndContext {
  return { header: header(lb.name), vip: vipCidr(inv), interface: iface, release: RELEASE_SCRIPT_PATH };
}

export function restartDropInContext(inv: Inventory, lb: LoadBalancer, iface: string): RestartDropInContext {
  return { ...keepalivedEndContext(inv, lb, iface), restartSec: 1 };
}

export function haproxyDropInContext(_inv: Inventory, lb: LoadBalancer): HaproxyDropInContext {
  return { header: header(lb.name), release: RELEASE_SCRIPT_PATH };
}

/** Template values are single-line by contract; a newline here would be a bug or an injection. */
export function assertSingleLine(value: unknown, where: string): void {
  if (typeof value === 'string') {
    if (/[\n\r\0]/.test(value)) throw new InternalError(`template value ${where} contains a line break`);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => assertSingleLine(v, `${where}[${i}]`));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) assertSingleLine(v, `${where}.${k}`);
  }
}
