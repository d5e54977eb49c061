import { randomBytes } from 'node:crypto';
import { firewalldVrrpRule } from '../tasks/firewall.js';
import { TransportError } from '../transport/errors.js';
import type { Session } from '../transport/session.js';
import { DETECT_COMMAND, hop, parseObservation, parseTool, probeCommand, VRRP_GROUP, type Observation, type ProbeTool } from './vrrp-probe.js';

// Does VRRP get from each load balancer to each other one? Every host listens
// and sends at once, then reports what it read; callers (apply's preflight,
// the setup wizard) get a verdict per direction and the words to explain it.

export interface VrrpPeer {
  name: string;
  address: string;
}

export type VrrpMode = 'unicast' | 'multicast';

/**
 * Where a lost packet was lost: the sender could not send it; it never
 * reached the receiver's interface; it reached it and the receiver's own
 * firewall dropped it; or one of the last two (the receiver could not watch
 * its interface).
 */
export type VrrpLoss = 'sender' | 'between' | 'receiver' | 'between-or-receiver';

export interface VrrpPath {
  from: string;
  to: string;
  mode: VrrpMode;
  delivered: boolean;
  /**
   * How far the receiver could follow the packets: to the socket keepalived
   * reads, or (tcpdump) only to its network interface, before its firewall.
   */
  checkedTo: 'socket' | 'interface';
  /** Absent when delivered. */
  lost?: VrrpLoss;
  /** Why the sender could not send, when `lost` is 'sender'. */
  reason?: string;
}

export interface VrrpPathReport {
  /** How keepalived will send: this mode's paths are the verdict. */
  mode: VrrpMode;
  /** Every checked direction; with multicast, the unicast ones too, which tell whether only multicast is lost. */
  paths: VrrpPath[];
  /** Hosts where something could not be checked; never a pass. */
  unchecked: { host: string; message: string }[];
  /** One line per lost direction (of `mode`) and per unchecked host. */
  diagnosis: string[];
}

/** Longest a host listens; when every direction works the run ends after a few hundred ms. */
export const PROBE_SECONDS = 2.5;
// Past the probe's own deadline: SSH, sudo and the interpreter's start.
const EXEC_SLACK_MS = 10_000;

type HostRun = { tool: ProbeTool; seen?: Observation; error?: string };

export async function probeVrrpPaths(lbs: readonly VrrpPeer[], unicast: boolean, sessions: ReadonlyMap<string, Session>): Promise<VrrpPathReport> {
  const mode: VrrpMode = unicast ? 'unicast' : 'multicast';
  const runs = new Map<string, HostRun>();
  await Promise.all(
    lbs.map(async (lb) => {
      const session = sessions.get(lb.name);
      if (!session) {
        runs.set(lb.name, { tool: { kind: 'none' }, error: 'kha has no connection to it' });
        return;
      }
      try {
        runs.set(lb.name, { tool: parseTool((await session.exec(DETECT_COMMAND, { timeoutMs: EXEC_SLACK_MS })).stdout) });
      } catch (err) {
        runs.set(lb.name, { tool: { kind: 'none' }, error: lostConnection(err) });
      }
    }),
  );
  const token = randomBytes(8).toString('hex');
  const addresses = lbs.map((lb) => lb.address);
  const listeners = lbs.flatMap((lb, i) => (runs.get(lb.name)!.tool.kind === 'none' ? [] : [i]));
  const senders = listeners.filter((i) => runs.get(lbs[i]!.name)!.tool.kind === 'python');
  const somePair = senders.some((s) => listeners.some((l) => l !== s));
  // Every listener starts at once; a host that waits for a peer's confirmation
  // keeps sending until its deadline, so hosts that start a little apart still meet.
  await Promise.all(
    lbs.map(async (lb, me) => {
      const run = runs.get(lb.name)!;
      if (run.tool.kind === 'none' || !somePair) return;
      const command = probeCommand(run.tool, { token, addresses, me, senders, multicast: !unicast, seconds: PROBE_SECONDS });
      try {
        const r = await sessions.get(lb.name)!.exec(command, { timeoutMs: PROBE_SECONDS * 1000 + EXEC_SLACK_MS });
        run.seen = parseObservation(r.stdout);
        // The probe itself exits 0, having said what failed; anything else is the interpreter's own crash.
        if (r.code !== 0) run.seen.failed ??= `the probe exited ${r.code}: ${r.stderr.trim().split('\n').pop() ?? ''}`;
      } catch (err) {
        run.error = lostConnection(err);
      }
    }),
  );
  const modes: VrrpMode[] = unicast ? ['unicast'] : ['multicast', 'unicast'];
  const paths = modes.flatMap((m) => lbs.flatMap((from) => lbs.filter((to) => to !== from).flatMap((to) => judge(from, to, m, runs))));
  const unchecked = lbs.flatMap((lb) => {
    const message = uncheckedMessage(lb.name, runs.get(lb.name)!);
    return message ? [{ host: lb.name, message }] : [];
  });
  const report: VrrpPathReport = { mode, paths, unchecked, diagnosis: [] };
  report.diagnosis = [...paths.filter((p) => p.mode === mode && !p.delivered).map((p) => explainLoss(p, report, lbs)), ...unchecked.map((u) => u.message)];
  return report;
}

/** A host that stops answering leaves its directions unchecked; any other error is kha's own and goes on up. */
function lostConnection(err: unknown): string {
  if (err instanceof TransportError) return err.message;
  throw err;
}

function usable(run: HostRun): Observation | undefined {
  return run.error || run.seen?.failed ? undefined : run.seen;
}

function judge(from: VrrpPeer, to: VrrpPeer, mode: VrrpMode, runs: ReadonlyMap<string, HostRun>): VrrpPath[] {
  const sender = runs.get(from.name)!;
  const receiver = runs.get(to.name)!;
  const sent = usable(sender);
  const seen = usable(receiver);
  if (!sent || !seen || sender.tool.kind !== 'python') return [];
  const destination = mode === 'multicast' ? VRRP_GROUP : to.address;
  const key = hop(from.address, destination);
  const checkedTo = receiver.tool.kind === 'python' ? 'socket' : 'interface';
  const path: VrrpPath = { from: from.name, to: to.name, mode, delivered: (checkedTo === 'socket' ? seen.delivered : seen.onWire).has(key), checkedTo };
  if (path.delivered) return [path];
  const reason = sent.unsent.get(destination);
  if (reason !== undefined) return [{ ...path, lost: 'sender', reason }];
  if (seen.onWire.has(key)) return [{ ...path, lost: 'receiver' }];
  return [{ ...path, lost: checkedTo === 'socket' && seen.wireBlind !== undefined ? 'between-or-receiver' : 'between' }];
}

function uncheckedMessage(host: string, run: HostRun): string | undefined {
  const why = run.error ?? run.seen?.failed;
  if (why !== undefined) return `VRRP to and from ${host} not checked: ${why}`;
  if (run.tool.kind === 'none') {
    return `VRRP to and from ${host} not checked: it has neither python3 nor tcpdump (install python3, or make sure yourself that IP protocol 112 passes both ways between the load balancers)`;
  }
  if (run.tool.kind === 'tcpdump') {
    return `VRRP from ${host} not checked and VRRP to ${host} only up to its network interface, before its own firewall: it has tcpdump, which listens, but not python3, which kha sends and reads with (install python3 to check both)`;
  }
  return undefined;
}

/** The commands that let VRRP from `from` in on the receiver, in the form kha itself would add. */
function acceptCommands(from: VrrpPeer, mode: VrrpMode): string {
  const match = mode === 'unicast' ? { source: from.address } : { destination: VRRP_GROUP };
  const nft = mode === 'unicast' ? `ip saddr ${from.address}` : `ip daddr ${VRRP_GROUP}`;
  return `firewall-cmd --permanent --add-rich-rule='${firewalldVrrpRule(match)}' && firewall-cmd --reload (firewalld), or nft insert rule inet filter input ${nft} ip protocol vrrp accept (nftables; your table and chain)`;
}

/** Why one direction fails and what to do about it, for people. */
export function explainLoss(path: VrrpPath, report: VrrpPathReport, lbs: readonly VrrpPeer[]): string {
  const from = lbs.find((lb) => lb.name === path.from)!;
  const to = lbs.find((lb) => lb.name === path.to)!;
  const back = report.paths.find((p) => p.mode === path.mode && p.from === path.to && p.to === path.from);
  const reverse = back === undefined ? '' : back.delivered ? ` (${path.to} → ${path.from} works)` : ` (${path.to} → ${path.from} fails too)`;
  const head = `${path.from} → ${path.to}${reverse}:`;
  const what = path.mode === 'multicast' ? `VRRP (IP protocol 112) to ${VRRP_GROUP}` : 'VRRP (IP protocol 112)';
  const byUnicast = report.paths.find((p) => p.mode === 'unicast' && p.from === path.from && p.to === path.to);
  const sourceCheck = `a cloud network that drops packets from addresses it did not hand out (turn its source/destination check off for ${path.from})`;
  const between =
    path.mode === 'multicast'
      ? `a firewall, router or cloud network that drops multicast (set keepalived.unicast: true) or passes only TCP, UDP and ICMP (let IP protocol 112 to ${VRRP_GROUP} through), or ${sourceCheck}`
      : `a firewall, router ACL or security group that passes only TCP, UDP and ICMP (let IP protocol 112 from ${from.address} to ${to.address} through), or ${sourceCheck}`;
  switch (path.lost) {
    case 'sender':
      return `${head} ${path.from} cannot send ${what} to ${path.to}: ${path.reason}`;
    case 'between':
      if (path.mode === 'multicast' && byUnicast?.delivered) {
        return `${head} ${what} from ${path.from} never reaches ${path.to}, while unicast VRRP does: the network drops multicast, as most clouds do; set keepalived.unicast: true`;
      }
      return `${head} ${what} sent by ${path.from} never reaches ${path.to}'s network interface: something between them drops it, such as ${between}`;
    case 'receiver':
      return `${head} ${what} from ${path.from} reaches ${path.to}'s network interface, but ${path.to}'s own firewall drops it before keepalived could read it: accept it on ${path.to}, e.g. ${acceptCommands(from, path.mode)}; or have kha add it: run firewalld (or ufw) there and set security.firewall: auto`;
    default:
      return `${head} ${what} from ${path.from} does not reach keepalived's socket on ${path.to}, and ${path.to} could not watch its interface to tell where it is lost: ${path.to}'s own firewall (accept it, e.g. ${acceptCommands(from, path.mode)}) or something between them, such as ${between}`;
  }
}
