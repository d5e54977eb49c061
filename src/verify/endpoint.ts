import { connect } from 'node:net';
import { type Inventory, vipOf } from '../inventory/model.js';
import { foundByCheck, readHaproxyStats, type ServerStats } from '../observe/haproxy-stats.js';
import type { Session } from '../transport/session.js';
import { seenKey } from './apiservers-seen.js';
import { checkThroughVip, type VipCheck } from './through-vip.js';

// The last stage of apply: what the endpoint serves now. Before `kubeadm
// init` no apiserver answers, and that is a finished first build, not a
// failure: the endpoint is up when haproxy listens on VIP:port. Each master
// is judged by what the holder's haproxy found, and by whether it ever
// answered before (see apiservers-seen.ts).

export interface MasterVerdict {
  name: string;
  up: boolean;
  /** What haproxy's last check found, in words. */
  found: string;
  /** It answered through this endpoint on an earlier run. */
  seenBefore: boolean;
}

export interface EndpointCheck {
  holder: string;
  masters: MasterVerdict[];
  /** haproxy accepted a connection on VIP:port. */
  listening: boolean;
  /** Requests through the VIP, when any master is up. */
  requests?: VipCheck;
  /** No master answers and none ever did: the endpoint waits for kubeadm init. */
  firstBuild: boolean;
  /** Each makes apply exit 1. */
  problems: string[];
  /** Told, not failed: masters that have not answered yet. */
  warnings: string[];
  /**
   * Static pods (topology/static-pods): the hosts where kha wrote the pods'
   * files but nothing runs them yet; set only when none runs anywhere
   * (before kubeadm init), and then nothing else was asked.
   */
  podsPending?: string[];
}

/** How long haproxy may take to reach a verdict on every apiserver, and to count a returning one UP again. */
const SETTLE_MS = 10_000;

const apiservers = (stats: readonly ServerStats[]) => stats.filter((s) => s.backend === 'kube_apiserver');

/** "UP" and "DOWN" are verdicts; "UP 1/3" (going down), "DOWN 1/2" (going up) and no check yet are not. */
function settled(s: ServerStats): boolean {
  return (s.status === 'UP' || s.status === 'DOWN') && !['', 'INI', 'UNK'].includes(s.checkStatus.replace(/^\*\s*/, ''));
}

/** Waits until haproxy has a verdict on each master, and gives a master that answered before the time to rise again. */
export async function settledStats(inv: Inventory, holder: Session, seen: ReadonlySet<string>): Promise<ServerStats[]> {
  const wanted = (s: ServerStats) => {
    const m = inv.masters.find((x) => x.name === s.server);
    return settled(s) && !(s.status === 'DOWN' && m !== undefined && seen.has(seenKey(m)));
  };
  let stats = apiservers(await readHaproxyStats(holder, inv.haproxy.monitor_port));
  for (const until = Date.now() + SETTLE_MS; !stats.every(wanted) && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 200));
    stats = apiservers(await readHaproxyStats(holder, inv.haproxy.monitor_port));
  }
  return stats;
}

/** Pure: each master's verdict, and what the run says about them. */
export function judgeMasters(inv: Inventory, stats: readonly ServerStats[], seen: ReadonlySet<string>): Pick<EndpointCheck, 'masters' | 'problems' | 'warnings' | 'firstBuild'> {
  const masters = inv.masters.map((m): MasterVerdict => {
    const s = stats.find((x) => x.server === m.name);
    return {
      name: m.name,
      up: s?.status === 'UP',
      found: s ? foundByCheck(s) : 'not in haproxy (is it running the configuration kha wrote?)',
      seenBefore: seen.has(seenKey(m)),
    };
  });
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const m of masters.filter((x) => !x.up)) {
    const master = inv.masters.find((x) => x.name === m.name)!;
    const where = `${m.name}'s apiserver at ${master.address}:${master.apiserverPort}`;
    if (m.seenBefore) problems.push(`${where} answered through this endpoint before and now: ${m.found}`);
    else warnings.push(`${where} has not answered yet: ${m.found} (expected until kubeadm ${m.name === inv.masters[0]?.name ? 'init runs there' : 'joins it'})`);
  }
  const firstBuild = masters.every((m) => !m.up && !m.seenBefore);
  return { masters, problems, warnings, firstBuild };
}

/** haproxy accepts on VIP:port: what a first build can prove before any apiserver exists. */
export function listens(address: string, port: number, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: timeoutMs });
    const end = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => end(true));
    socket.once('timeout', () => end(false));
    socket.once('error', () => end(false));
  });
}

/** A master took some of the check's requests, or serves connections held through the VIP (which leastconn weighs first). */
export function reached(requests: VipCheck, master: string): boolean {
  return (requests.perMaster[master] ?? 0) > 0 || (requests.holding[master] ?? 0) > 0;
}

export async function checkEndpoint(inv: Inventory, holderName: string, holder: Session, seen: ReadonlySet<string>): Promise<EndpointCheck> {
  const stats = await settledStats(inv, holder, seen);
  const verdict = judgeMasters(inv, stats, seen);
  const listening = await listens(vipOf(inv).address, inv.port);
  const check: EndpointCheck = { holder: holderName, listening, ...verdict };
  if (!listening) check.problems.unshift(`nothing accepts connections on ${vipOf(inv).address}:${inv.port}: haproxy on ${holderName} does not listen there`);
  const up = verdict.masters.filter((m) => m.up).map((m) => m.name);
  if (up.length > 0) {
    const requests = await checkThroughVip(inv, holder, up);
    check.requests = requests;
    if (requests.failures.length > 0) {
      check.problems.push(`${requests.failures.length} of ${requests.requests} requests through the VIP failed (${[...new Set(requests.failures)].join(', ')})`);
    }
    for (const m of up.filter((name) => !reached(requests, name))) check.problems.push(`${m} is UP in haproxy but received no connection through the VIP and holds none`);
  }
  return check;
}
