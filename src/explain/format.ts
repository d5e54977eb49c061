import { CLIENT_GO_PING_TIMEOUT_MS, CLIENT_GO_READ_IDLE_MS } from '../drill/streams.js';
import { CHECK_PACE } from '../inventory/model.js';
import { DEFAULT_HTTP2_PING_TIMEOUT_S, DEFAULT_HTTP2_READ_IDLE_S } from '../inventory/schema.js';
import type { Explanation, FaultExplained, HostExplained, LiveExplained, LiveHostExplained } from './explain.js';
import type { AdvertTraffic } from './timing.js';

// An Explanation in plain sentences with this inventory's numbers: for the
// operator reading `kha explain`, and for the setup wizard before it writes
// hosts.yaml.

/** A duration as people read it: milliseconds below a second, else seconds to the hundredth. */
export function duration(s: number): string {
  if (s === 0) return '0 s';
  if (s < 0.01) return `${(s * 1000).toFixed(1)} ms`;
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  return `${Number(s.toFixed(2))} s`;
}

/** Up to one decimal, none when whole: 5, 3.3. */
function amount(n: number): string {
  return String(Number(n.toFixed(1)));
}

/** A rate with its unit: 1 packet/s, 3.3 packets/s. */
function rate(n: number, one: string): string {
  return `${amount(n)} ${amount(n) === '1' ? one : `${one}s`}/s`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function list(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

function hostOf(e: Explanation, name: string): HostExplained {
  return e.hosts.find((h) => h.name === name)!;
}

function withPriority(e: Explanation, name: string): string {
  return `${name} (${hostOf(e, name).priority})`;
}

function election(e: Explanation): string[] {
  const [first, ...rest] = e.hosts;
  return [
    `${first!.name} is the primary: priority ${first!.priority}, the highest, so it wins the election and takes the VIP when the load balancers start.`,
    rest.length === 1
      ? `${withPriority(e, rest[0]!.name)} is its backup.`
      : `Its backups, in the order they would take over: ${list(rest.map((h) => withPriority(e, h.name)))}.`,
    'The highest priority wins. kha gives a load balancer without a priority 150, 100, 50 by its place in hosts.yaml (closer beyond three; far apart, so that after a goodbye the advert of the first backup silences the others before their own timers run out) and keeps the priorities set there; ' +
      'two equal priorities are refused, because VRRP would then let the higher IP address win, a choice nobody made.',
    `Every keepalived starts as BACKUP and kha apply starts ${first!.name} first, so a host that restarts never seizes the VIP by declaring itself MASTER.`,
  ];
}

function drillNote(f: FaultExplained): string {
  const limits = new Set(f.drills.map((d) => d.maxOutageS));
  const names = list(f.drills.map((d) => d.name));
  const drills = f.drills.length === 1 ? `drill ${names}` : `drills ${names}`;
  const allows = (s: number) => (s === 0 ? 'no client outage' : `at most ${duration(s)} of client outage`);
  if (limits.size === 1) return ` (kha verify-failover's ${drills}: ${allows(f.drills[0]!.maxOutageS)})`;
  return ` (kha verify-failover: ${f.drills.map((d) => `${d.name} ${allows(d.maxOutageS)}`).join(', ')})`;
}

function faultLine(e: Explanation, f: FaultExplained): string {
  const { holder, successor } = e;
  const c = e.vrrp.check;
  const next = successor ? hostOf(e, successor) : undefined;
  const nobody = 'and no other load balancer can take the VIP now, so it is gone until a load balancer recovers';
  switch (f.kind) {
    case 'haproxy-down': {
      const runs = c.fall === 1 ? 'its first failed run' : `${c.fall} failed runs`;
      const detect = `kha's check starts every ${c.intervalS} s and asks haproxy every ${duration(CHECK_PACE.pauseMs / 1000)} for ${duration(c.watchS)} of it, failing at the second refused answer; keepalived gives up after ${runs}, so within ${duration(c.noticedS)}`;
      const fault = 'its track_script has weight 0, so keepalived enters FAULT rather than lowering its priority, and sends a priority-0 advert';
      const after = next
        ? `${next.name} takes over after its skew time, ${duration(next.skewS)}: ${duration(f.vipMovedS!)} at most in all. A hung haproxy takes two unanswered questions of ${duration(CHECK_PACE.answerMs / 1000)} more`
        : nobody;
      return `haproxy dies on ${holder}: ${detect}; ${fault}; ${after}.`;
    }
    case 'keepalived-stop':
      return `keepalived stops on ${holder} (systemctl stop, the kubelet stopping its pod, an orderly shutdown): it sends a priority-0 advert on its way out; ${
        next ? `${next.name} takes over after its skew time, ${duration(next.skewS)}` : nobody
      }.`;
    case 'holder-silent': {
      const wait = next
        ? `${next.name} waits its master down interval, 3 × ${e.vrrp.advertIntS} s + ${duration(next.skewS)} = ${duration(next.masterDownS)}, then takes over`
        : nobody;
      return (
        `${holder} goes silent (power loss, a crash, a cable or switch port, keepalived killed, a network partition): nobody says goodbye, so ${wait}. ` +
        `a killed keepalived's VIP comes off ${holder} as it ends (kha's systemd drop-in, or the wrapper in keepalived's pod), and a partition leaves it on both sides until it heals; then the higher priority keeps it, preempt or not.`
      );
    }
    case 'holder-returns': {
      if (f.holderAfter === holder) {
        return (
          `${holder} comes back: preempt is on, so it accepts ${successor}'s lower-priority adverts for preempt_delay ${e.vrrp.preemptDelayS} s, then ignores them and takes the VIP back ` +
          `one master down interval later: about ${duration(f.vipMovedS!)} after it returns. That second move resets clients' connections once more.`
        );
      }
      const why = !e.vrrp.preempt
        ? `nopreempt: it stays a backup and ${successor ?? 'the new holder'} keeps the VIP, so clients notice nothing (moving it back would reset their connections a second time)`
        : `preempt is on, but ${successor ?? 'the new holder'} has the higher priority, so it stays a backup`;
      return `${holder} comes back: ${why}. After a haproxy failure it is a backup again once ${c.rise === 1 ? 'a check passes' : `${c.rise} checks in a row pass`} (${c.rise * c.intervalS} s).`;
    }
    case 'apiserver-down':
      return `One apiserver stops: the VIP stays on ${holder}; haproxy takes that master out of rotation within ${duration(e.apiserverOutS)}, and its retries and redispatch send new connections to the others.`;
  }
}

/** Below this gap between two backups' timers, the first one's advert may not silence the second in time (lab figures: README, "How fast"). */
const SAFE_TIMER_GAP_S = 0.01;

function arithmetic(e: Explanation): string[] {
  const v = e.vrrp;
  const skew =
    v.version === 3
      ? `skew time = (256 − priority) × advert_int / 256 (VRRPv3, RFC 5798 §6.1)`
      : `skew time = (256 − priority) / 256 s, whatever advert_int (VRRPv2, RFC 3768 §6.1)`;
  const lines = [
    `${skew}; master down interval = 3 × advert_int + skew time. keepalived computes both this way.`,
    ...e.hosts.map((h) => `  ${h.name} (${h.priority}): skew ${duration(h.skewS)}, master down interval ${duration(h.masterDownS)}`),
  ];
  const [first, second] = e.hosts.filter((h) => h.name !== e.holder);
  if (first && second) {
    const gapS = second.masterDownS - first.masterDownS;
    lines.push(
      `When ${e.holder} goes silent or says goodbye, ${first.name}'s timer runs out ${duration(gapS)} before ${second.name}'s, ` +
        (gapS >= SAFE_TIMER_GAP_S
          ? `and on one LAN its first advert reaches ${second.name} sooner than that, so exactly one takes over.`
          : `too little for a busy host, whose timers can slip by as much: both may take over for a moment, and ${second.name}'s gratuitous ARP then points clients at a host that gives the VIP up at once, until ${first.name}'s next one (lab: 1 s of outage). Set their priorities further apart (kha's defaults for up to three are 50 apart).`),
    );
  }
  return lines;
}

function advertsLine(a: AdvertTraffic, version: 2 | 3): string {
  const parts = `20 B IPv4 header + 8 B VRRP + 4 B for the VIP${version === 2 ? ' + 8 B authentication data' : ''}`;
  return (
    `Each advert is ${a.size.packetBytes} B of IPv4 (${parts}), padded to a ${a.size.frameBytes} B Ethernet frame: ` +
    `${a.size.wireBytes} B on the wire with preamble and gap, ${amount(a.wireBytesPerS)} B/s (${amount((a.wireBytesPerS * 8) / 1000)} kbit/s).`
  );
}

function network(e: Explanation): string[] {
  const tr = e.traffic;
  const a = tr.adverts;
  const to = tr.to === '224.0.0.18' ? 'to the multicast group 224.0.0.18, which every host on the segment receives' : `to each unicast peer (${list(tr.to)})`;
  const lines = [
    `Only the holder sends adverts; backups listen. ${tr.sender} sends ${amount(a.advertsPerS)} a second ${to}: ${rate(a.packetsPerS, 'packet')}.`,
    advertsLine(a, e.vrrp.version),
  ];
  if (tr.garp) {
    lines.push(`Gratuitous ARP refresh: one ${tr.garp.size.wireBytes} B broadcast every ${tr.garp.everyS} s. In all about ${amount(tr.wireBytesPerS)} B/s.`);
  }
  const alt = e.alternative;
  const own = hostOf(e, e.successor ?? e.hosts[1]!.name).masterDownS;
  if (alt.version === 2) {
    lines.push(
      `With auth_pass kha would use VRRPv2, whose adverts count whole seconds: at advert_int ${alt.advertIntS} s, ${rate(alt.adverts.packetsPerS, 'packet')} of ${alt.adverts.size.packetBytes} B ` +
        `(the password rides in the authentication field), ${amount(alt.adverts.wireBytesPerS)} B/s, but a silent holder would be replaced after ${duration(alt.silentFailoverS)} instead of ${duration(own)}.`,
    );
  } else {
    lines.push(
      `Without auth_pass kha would use VRRPv3 at ${alt.advertIntS} s: ${rate(alt.adverts.packetsPerS, 'packet')}, ${amount(alt.adverts.wireBytesPerS)} B/s, ` +
        `and a silent holder would be replaced after ${duration(alt.silentFailoverS)} instead of ${duration(own)}. VRRPv3 has no authentication; unicast peers and the firewall guard the adverts instead.`,
    );
  }
  return lines;
}

function stateText(h: LiveHostExplained): string {
  return h.state === 'UNREACHABLE' ? 'unreachable' : h.state;
}

function liveTable(l: LiveExplained): string[] {
  const rows = l.hosts.map((h) => [
    h.name,
    stateText(h),
    h.effectivePriority === null ? `?/${h.priority}` : `${h.effectivePriority}/${h.priority}`,
    h.holdsVip ? 'holds the VIP' : '',
  ]);
  const head = ['host', 'vrrp', 'priority', ''];
  const widths = head.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

function whyNot(h: LiveHostExplained): string {
  if (h.state === 'FAULT') return `${h.name} is in FAULT (its haproxy check fails): it advertises priority 0 and cannot take the VIP.`;
  return `${h.name}'s keepalived is stopped: it cannot take the VIP.`;
}

function liveLines(e: Explanation, l: LiveExplained): string[] {
  const host = (name: string) => l.hosts.find((h) => h.name === name)!;
  const lines = liveTable(l);
  const next = l.next === null ? undefined : host(l.next);
  if (l.holders.length === 1) {
    const holder = l.holders[0]!;
    const skipped = l.cannotTake.filter((n) => next === undefined || host(n).priority > next.priority);
    lines.push(
      next
        ? `${holder} holds the VIP. If it fails, ${next.name} (${next.priority}) takes over${skipped.length > 0 ? `: ${list(skipped)} ${skipped.length === 1 ? 'has' : 'have'} a higher priority but advertise${skipped.length === 1 ? 's' : ''} 0` : ', the highest priority among the healthy backups'}.`
        : `${holder} holds the VIP, and no other load balancer could take it if it failed.`,
    );
    for (const name of l.outranksHolder) {
      lines.push(
        e.vrrp.preempt
          ? `${withPriority(e, name)} outranks ${holder} and preempt is on: it takes the VIP back within preempt_delay (${e.vrrp.preemptDelayS} s) and one master down interval.`
          : `${withPriority(e, name)} outranks ${holder} but stays a backup (nopreempt) while ${holder} is healthy; restarting keepalived on ${holder} hands the VIP to it (clients reconnect once).`,
      );
    }
  } else if (l.holders.length === 0) {
    // An unreachable host may hold it: only the reachable ones are known not to.
    const nobody = l.hosts.some((h) => h.state === 'UNREACHABLE') ? 'No reachable load balancer holds the VIP' : 'Nobody holds the VIP';
    lines.push(
      next
        ? `${nobody}. ${next.name} (${next.priority}) should take it within its master down interval, ${duration(hostOf(e, next.name).masterDownS)}.`
        : `${nobody}, and no reachable one can take it.`,
    );
  } else {
    lines.push(
      `SPLIT BRAIN: ${list(l.holders)} ${l.holders.length === 2 ? 'both' : 'all'} hold the VIP. When they hear each other again, ${next!.name} (${next!.priority}), the highest priority, keeps it and the others step down.`,
    );
  }
  for (const name of l.cannotTake) lines.push(whyNot(host(name)));
  for (const name of l.unknownAbove) {
    const h = host(name);
    const why = h.state === 'UNREACHABLE' ? `is unreachable (${h.error})` : `has a keepalived state kha could not read (${h.state})`;
    lines.push(
      next
        ? `${h.name} ${why}; if its keepalived is a healthy backup, its priority ${h.priority} puts it ahead of ${next.name}.`
        : `${h.name} ${why}: kha cannot tell whether it holds the VIP or could take it.`,
    );
  }
  return lines;
}

/** client-go's own defaults (HTTP2_READ_IDLE_TIMEOUT_SECONDS, HTTP2_PING_TIMEOUT_SECONDS), as the drills' client-go stream has them. */
const CLIENT_GO_DEFAULT = { readIdleS: CLIENT_GO_READ_IDLE_MS / 1000, pingTimeoutS: CLIENT_GO_PING_TIMEOUT_MS / 1000 };

/** What a watch held through the VIP lives through: told at once when the VIP leaves a live host, its own check otherwise. */
function held(e: Explanation): string[] {
  const d = CLIENT_GO_DEFAULT;
  const k = e.held.kubelet;
  const planned =
    "The VIP leaves a host that lives on (keepalived stopped or killed, haproxy dead, a reboot): once the backup has taken over, kha's release script resets every connection through the old holder, and clients reconnect to the new one at once.";
  const silent = `The holder goes silent (power loss, a cut link): nothing reaches a client that waits for its next event. client-go learns from its own HTTP/2 check: it sends a PING after ${d.readIdleS} s without a frame, which the new holder answers with a reset (${d.readIdleS} s), and gives up ${d.pingTimeoutS} s later when nothing answers (${d.readIdleS + d.pingTimeoutS} s), about the node controller's grace period (40 s).`;
  const kubelets = k
    ? `kha sets ${k.readIdleS} s and ${k.pingTimeoutS} s for the kubelets of ${k.hosts.length > 4 ? `${k.hosts.slice(0, 3).join(', ')} and ${k.hosts.length - 3} more` : list(k.hosts)} (hosts.yaml kubelet): ${k.readIdleS} s or ${k.readIdleS + k.pingTimeoutS} s there.`
    : `hosts.yaml's kubelet section makes kha set shorter ones (${DEFAULT_HTTP2_READ_IDLE_S} s and ${DEFAULT_HTTP2_PING_TIMEOUT_S} s) for the kubelets it manages; other clients read HTTP2_READ_IDLE_TIMEOUT_SECONDS and HTTP2_PING_TIMEOUT_SECONDS from their environment.`;
  return [planned, `${silent} ${kubelets}`, 'A client with no check of its own and no TCP keepalive waits until it sends something.'];
}

/** The explanation as lines for people, with this inventory's numbers. */
export function formatExplanation(e: Explanation): string[] {
  const v = e.vrrp;
  const mode = v.unicast ? 'unicast' : 'multicast';
  const preempt = v.preempt ? `preempt after ${v.preemptDelayS} s` : 'nopreempt';
  const assumed = e.live && e.live.holders.length === 1 ? `${e.holder} holds the VIP now` : `with ${e.holder}, the primary, holding the VIP`;
  return [
    `VIP ${e.vip} on ${plural(e.hosts.length, 'load balancer')}: VRRPv${v.version}, adverts every ${v.advertIntS} s, ${mode}, ${preempt}.`,
    '',
    'Who holds the VIP, and why',
    ...election(e).map((l) => `  ${l}`),
    '',
    `What moves the VIP (${assumed}${e.successor ? `; ${e.successor} is next` : ''})`,
    ...e.faults.map((f) => `  - ${faultLine(e, f)}${drillNote(f)}`),
    '',
    'The timers',
    ...arithmetic(e).map((l) => `  ${l}`),
    '',
    'Connections held through the VIP (a kubelet\'s watches)',
    ...held(e).map((l) => `  - ${l}`),
    '',
    'What it costs on the network',
    ...network(e).map((l) => `  ${l}`),
    ...(e.live ? ['', 'Right now (read from the load balancers)', ...liveLines(e, e.live).map((l) => `  ${l}`)] : []),
  ];
}
