import { defaultLimits, type DrillName } from '../drill/drills.js';
import { checkWatchCs, haproxyDeathNoticedMs, type Inventory, type LoadBalancer, vipOf } from '../inventory/model.js';
import { DEFAULT_V2_ADVERT_S, DEFAULT_V3_ADVERT_S } from '../inventory/semantic.js';
import type { VrrpState } from '../observe/keepalived-state.js';
import { kubeletHosts } from '../topology/roles.js';
import { advertTraffic, garpSize, masterDownUs, seconds, skewUs, type AdvertTiming, type AdvertTraffic, type PacketSize } from './timing.js';

// What kha chose, and what it costs, as data: who is primary and why, what
// moves the VIP and how fast, what the adverts cost on the network, and,
// given the live state, who would take the VIP next. Pure, so that `kha
// explain` and the setup wizard (before hosts.yaml exists on disk) say the
// same thing; format.ts turns it into sentences.

/** One load balancer as read over SSH; `kha explain --offline` and the wizard have none. */
export type LiveHost =
  | { name: string; reachable: true; vrrp: VrrpState; holdsVip: boolean }
  | { name: string; reachable: false; error: string };

export interface LiveState {
  hosts: LiveHost[];
}

export interface HostExplained {
  name: string;
  address: string;
  priority: number;
  primary: boolean;
  /** As a backup: how much later than a priority-255 router its timers run out, in s. */
  skewS: number;
  /** As a backup: how long it waits for a master that has gone silent, in s. */
  masterDownS: number;
}

export type FaultKind = 'haproxy-down' | 'keepalived-stop' | 'holder-silent' | 'holder-returns' | 'apiserver-down';

export interface FaultExplained {
  kind: FaultKind;
  /** Who holds the VIP once the fault has played out; null when no load balancer can. */
  holderAfter: string | null;
  /** From the fault to the VIP on holderAfter, at most, in s: 0 when it stays put, null when nobody can take it. */
  vipMovedS: number | null;
  /** The drills of kha verify-failover that stage this fault, with the client outage each allows, in s. */
  drills: { name: DrillName; maxOutageS: number }[];
}

export interface LiveHostExplained {
  name: string;
  state: VrrpState | 'UNREACHABLE';
  holdsVip: boolean;
  priority: number;
  /** What it advertises now: 0 in FAULT or stopped, null when unknown. */
  effectivePriority: number | null;
  error?: string;
}

export interface LiveExplained {
  hosts: LiveHostExplained[];
  holders: string[];
  /**
   * With one holder: who takes the VIP if it fails. With none: who should
   * take it. With several (split brain): who keeps it once they hear each
   * other again. null when no reachable load balancer can.
   */
  next: string | null;
  /** Healthy backups with a higher priority than the single holder: preempt lets them take it back, nopreempt keeps them waiting. */
  outranksHolder: string[];
  /** Hosts whose state is unknown and whose priority is above next's: healthy, they would be next instead. */
  unknownAbove: string[];
  /** Reachable hosts that cannot take the VIP now (FAULT or keepalived stopped). */
  cannotTake: string[];
}

export interface TrafficExplained {
  /** Only the master advertises. */
  sender: string;
  /** The unicast peers it sends each advert to, or the multicast group. */
  to: string[] | '224.0.0.18';
  adverts: AdvertTraffic;
  /** Gratuitous ARP refreshes while master (garp_master_refresh); null when off. */
  garp: { everyS: number; size: PacketSize } | null;
  wireBytesPerS: number;
}

/** The other VRRP version kha would use: VRRPv2 at whole seconds when auth_pass is set, VRRPv3 at its default interval without. */
export interface AlternativeExplained {
  version: 2 | 3;
  advertIntS: number;
  authPass: boolean;
  /** Master down interval of the same successor. */
  silentFailoverS: number;
  adverts: AdvertTraffic;
}

export interface Explanation {
  vip: string;
  vrrp: {
    version: 2 | 3;
    advertIntS: number;
    unicast: boolean;
    preempt: boolean;
    preemptDelayS: number;
    authPass: boolean;
    /** `watchS`: how long each run keeps asking haproxy; `noticedS`: the longest a dead haproxy goes unnoticed. */
    check: { intervalS: number; timeoutS: number; watchS: number; noticedS: number; fall: number; rise: number };
  };
  /** Highest priority first: the order in which they take the VIP. */
  hosts: HostExplained[];
  primary: string;
  /** Whom the faults assume holds the VIP: the single holder seen live, else the primary. */
  holder: string;
  /** Who takes over from holder; null when no other host can now. */
  successor: string | null;
  faults: FaultExplained[];
  /** haproxy's check of one apiserver: how long until a stopped one is out of rotation, in s. */
  apiserverOutS: number;
  traffic: TrafficExplained;
  alternative: AlternativeExplained;
  held: HeldExplained;
  live?: LiveExplained;
}

/** What a client that holds its connection through the VIP (a kubelet's watch) lives through. */
export interface HeldExplained {
  /** client-go's HTTP/2 health check as kha sets it for the kubelets it manages (hosts.yaml kubelet), and where. */
  kubelet?: { readIdleS: number; pingTimeoutS: number; hosts: string[] };
}


const byPriority = (a: { priority: number }, b: { priority: number }) => b.priority - a.priority;

function timingOf(inv: Inventory): AdvertTiming {
  return { version: inv.keepalived.version, advertIntS: inv.keepalived.advertInt };
}

/** What a host advertises: 0 when its check has failed (FAULT) or keepalived is down; kha's only tracked script has weight 0, so nothing else changes it. */
export function effectivePriority(lb: LoadBalancer, state: VrrpState | 'UNREACHABLE'): number | null {
  if (state === 'FAULT' || state === 'STOPPED') return 0;
  if (state === 'MASTER' || state === 'BACKUP') return lb.priority;
  return null;
}

function liveView(inv: Inventory, live: LiveState): LiveExplained {
  const hosts = inv.lbs.map((lb): LiveHostExplained => {
    const h = live.hosts.find((x) => x.name === lb.name);
    if (!h || !h.reachable) {
      const error = h && !h.reachable ? h.error : 'not read';
      return { name: lb.name, state: 'UNREACHABLE', holdsVip: false, priority: lb.priority, effectivePriority: null, error };
    }
    return { name: lb.name, state: h.vrrp, holdsVip: h.holdsVip, priority: lb.priority, effectivePriority: effectivePriority(lb, h.vrrp) };
  });
  const holders = hosts.filter((h) => h.holdsVip);
  // A keepalived in BACKUP advertises nothing but runs its down timer: the one that can take the VIP.
  const backups = hosts.filter((h) => !h.holdsVip && h.state === 'BACKUP').sort(byPriority);
  const single = holders.length === 1 ? holders[0]! : undefined;
  const next = holders.length > 1 ? [...holders].sort(byPriority)[0]! : backups[0];
  const floor = next?.priority ?? 0;
  return {
    hosts,
    holders: holders.map((h) => h.name),
    next: next?.name ?? null,
    outranksHolder: single ? backups.filter((h) => h.priority > single.priority).map((h) => h.name) : [],
    unknownAbove: hosts.filter((h) => h.effectivePriority === null && !h.holdsVip && h.priority > floor).map((h) => h.name),
    cannotTake: hosts.filter((h) => h.effectivePriority === 0).map((h) => h.name),
  };
}

function hostExplained(lb: LoadBalancer, t: AdvertTiming): HostExplained {
  return {
    name: lb.name,
    address: lb.address,
    priority: lb.priority,
    primary: lb.primary,
    skewS: seconds(skewUs(t, lb.priority)),
    masterDownS: seconds(masterDownUs(t, lb.priority)),
  };
}

function faults(inv: Inventory, holder: LoadBalancer, successor: LoadBalancer | undefined): FaultExplained[] {
  const k = inv.keepalived;
  const t = timingOf(inv);
  const limits = defaultLimits(inv);
  const drills = (...names: DrillName[]) => names.map((name) => ({ name, maxOutageS: limits[name] / 1000 }));
  const to = successor?.name ?? null;
  const skew = successor ? seconds(skewUs(t, successor.priority)) : null;
  const down = successor ? seconds(masterDownUs(t, successor.priority)) : null;
  // A returning holder takes the VIP back only with preempt and a priority above the one holding it.
  const takesBack = k.preempt && successor !== undefined && holder.priority > successor.priority;
  return [
    { kind: 'haproxy-down', holderAfter: to, vipMovedS: skew === null ? null : haproxyDeathNoticedMs(k.check) / 1000 + skew, drills: drills('haproxy-down') },
    { kind: 'keepalived-stop', holderAfter: to, vipMovedS: skew, drills: drills('keepalived-stop') },
    { kind: 'holder-silent', holderAfter: to, vipMovedS: down, drills: drills('keepalived-kill', 'partition') },
    {
      kind: 'holder-returns',
      holderAfter: takesBack ? holder.name : to,
      vipMovedS: takesBack ? k.preemptDelay + seconds(masterDownUs(t, holder.priority)) : 0,
      drills: drills('failback'),
    },
    { kind: 'apiserver-down', holderAfter: holder.name, vipMovedS: 0, drills: drills('backend-down') },
  ];
}

function traffic(inv: Inventory, holder: LoadBalancer): TrafficExplained {
  const peers = inv.lbs.filter((lb) => lb !== holder).map((lb) => lb.name);
  const adverts = advertTraffic(timingOf(inv), inv.keepalived.unicast ? peers.length : 1);
  const refresh = inv.keepalived.garpMasterRefresh;
  // keepalived sends one gratuitous ARP per refresh (vrrp_garp_master_refresh_repeat, which kha leaves at 1).
  const garp = refresh > 0 ? { everyS: refresh, size: garpSize() } : null;
  return {
    sender: holder.name,
    to: inv.keepalived.unicast ? peers : '224.0.0.18',
    adverts,
    garp,
    wireBytesPerS: adverts.wireBytesPerS + (garp ? garp.size.wireBytes / garp.everyS : 0),
  };
}

function alternative(inv: Inventory, successor: LoadBalancer | undefined, copies: number): AlternativeExplained {
  const t: AdvertTiming = inv.keepalived.version === 3 ? { version: 2, advertIntS: DEFAULT_V2_ADVERT_S } : { version: 3, advertIntS: DEFAULT_V3_ADVERT_S };
  const priority = successor?.priority ?? inv.lbs.filter((lb) => !lb.primary).sort(byPriority)[0]!.priority;
  return {
    ...t,
    authPass: t.version === 2,
    silentFailoverS: seconds(masterDownUs(t, priority)),
    adverts: advertTraffic(t, copies),
  };
}

/** Who is primary and why, what moves the VIP and how fast, what it costs; with `live`, who would take it next now. */
export function explain(inv: Inventory, live?: LiveState): Explanation {
  const t = timingOf(inv);
  const k = inv.keepalived;
  const ranked = [...inv.lbs].sort(byPriority);
  const primary = ranked[0]!;
  const view = live ? liveView(inv, live) : undefined;
  const liveHolder = view?.holders.length === 1 ? inv.lbs.find((lb) => lb.name === view.holders[0]) : undefined;
  const holder = liveHolder ?? primary;
  const successor = liveHolder
    ? inv.lbs.find((lb) => lb.name === view?.next)
    : ranked.find((lb) => lb !== holder);
  const h = inv.haproxy;
  const explanation: Explanation = {
    vip: `${vipOf(inv).address}:${inv.port}`,
    vrrp: {
      version: k.version,
      advertIntS: k.advertInt,
      unicast: k.unicast,
      preempt: k.preempt,
      preemptDelayS: k.preemptDelay,
      authPass: k.authPass !== undefined,
      check: {
        intervalS: k.check.interval,
        timeoutS: k.check.timeout,
        watchS: checkWatchCs(k.check) / 100,
        noticedS: haproxyDeathNoticedMs(k.check) / 1000,
        fall: k.check.fall,
        rise: k.check.rise,
      },
    },
    hosts: ranked.map((lb) => hostExplained(lb, t)),
    primary: primary.name,
    holder: holder.name,
    successor: successor?.name ?? null,
    faults: faults(inv, holder, successor),
    // A stopped apiserver is out of rotation after one regular check and fall − 1 fast ones (schema.ts, haproxy.check_fastinter_ms).
    apiserverOutS: (h.check_inter_ms + (h.check_fall - 1) * h.check_fastinter_ms) / 1000,
    traffic: traffic(inv, holder),
    alternative: alternative(inv, successor, k.unicast ? inv.lbs.length - 1 : 1),
    held: {
      ...(inv.kubelet && { kubelet: { readIdleS: inv.kubelet.http2ReadIdleTimeoutS, pingTimeoutS: inv.kubelet.http2PingTimeoutS, hosts: kubeletHosts(inv).map((h) => h.name) } }),
    },
  };
  if (view) explanation.live = view;
  return explanation;
}
