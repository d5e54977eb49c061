import { gatherFacts } from '../facts/gather.js';
import type { HostFacts } from '../facts/types.js';
import type { Inventory } from '../inventory/model.js';
import { effectivePriority } from '../explain/explain.js';
import { certSans, firstCertificate } from '../kubeadm/handoff.js';
import { readCertificate, type CertificateCheck } from '../observe/certificate.js';
import { foundByCheck, readHaproxyStats, type ServerStats } from '../observe/haproxy-stats.js';
import type { VrrpState } from '../observe/keepalived-state.js';
import { describeChange } from '../plan/changes.js';
import { planHost } from '../plan/plan.js';
import { probeFor } from '../role/roles.js';
import { topologyOf } from '../topology/of.js';
import { proxyHosts, rolesOf } from '../topology/roles.js';
import { holdsVip } from '../facts/derived.js';
import { applyTargets } from '../execute/targets.js';
import { healthCommand } from '../node-proxy/gate.js';
import { NODE_PROXY_ROLE } from '../node-proxy/role.js';
import { NODE_PROXY_SERVICE } from '../node-proxy/tasks.js';
import { proxyPodState, proxyPodStatus } from '../node-proxy/pod-status.js';
import type { Session } from '../transport/session.js';
import { connectAll } from '../transport/ssh.js';

// What is true right now, read without changing anything: who holds the VIP,
// what each keepalived and haproxy thinks, and how far each host has drifted
// from what `apply` would write.

export interface LbStatus {
  host: string;
  /** What the host does: `lb :8443`, and `apiserver :6443` when it is a master too. */
  roles: string[];
  error?: string;
  holdsVip: boolean;
  vrrp: VrrpState;
  priority: number;
  /** What the host advertises: 0 in FAULT (its check failed) or when keepalived is down. */
  effectivePriority: number;
  services: Record<string, string>;
  backends: ServerStats[];
  drift: string[];
}

/** A host that runs the local proxy (a node, or a master with node_proxy.masters). */
export interface ProxyStatus {
  host: string;
  error?: string;
  /** kha-node-proxy as `systemctl is-active` says it. */
  service: string;
  /** The status code of its health page (200 while an apiserver passes its check), or `closed`. */
  health: string;
  /** What its haproxy's checks find of each master; none with nginx, which keeps no such state. */
  backends: ServerStats[];
  drift: string[];
}

export interface ClusterStatus {
  /** VIP:port; null when hosts.yaml has no VIP (the local proxies are the endpoint). */
  vip: string | null;
  holders: string[];
  lbs: LbStatus[];
  /** Masters that only run their apiserver (reached through haproxy, not through SSH). */
  apiservers: Array<{ host: string; roles: string[] }>;
  proxies: ProxyStatus[];
  certificate: CertificateCheck;
  /** Where the certificate was read, in words: "through the VIP", or from the first master without one. */
  certificateRead: string;
  problems: string[];
  healthy: boolean;
}

async function lbStatus(inv: Inventory, name: string, session: Session, facts: HostFacts): Promise<LbStatus> {
  const lb = inv.lbs.find((h) => h.name === name)!;
  const topology = topologyOf(inv);
  const [vrrp, backends] = await Promise.all([
    topology.vrrpState(session),
    readHaproxyStats(session, inv.haproxy.monitor_port).catch(() => [] as ServerStats[]),
  ]);
  const drift = planHost(inv, lb, facts, [...topology.tasks.keys()]).tasks.flatMap((t) => t.changes.map(describeChange));
  return {
    host: name,
    roles: rolesOf(inv, name),
    holdsVip: holdsVip(inv, facts),
    vrrp,
    priority: lb.priority,
    // Unknown (keepalived's journal unreadable): shown as configured.
    effectivePriority: effectivePriority(lb, vrrp) ?? lb.priority,
    services: await topology.serviceStates(session, inv),
    backends: backends.filter((b) => b.backend === 'kube_apiserver'),
    drift,
  };
}

/** Called only for a host proxyHosts lists, so node_proxy's settings exist (defaults when nodes are listed). */
async function proxyStatus(inv: Inventory, name: string, session: Session, facts: HostFacts): Promise<ProxyStatus> {
  const np = inv.nodeProxy!;
  const drift = NODE_PROXY_ROLE.plan(inv, name, facts, [...NODE_PROXY_ROLE.tasks], []).flatMap((t) => t.changes.map(describeChange));
  const [health, backends, service] = await Promise.all([
    session.exec(healthCommand(np.healthPort), { timeoutMs: 10_000 }).then((r) => r.stdout.trim() || 'closed'),
    np.software === 'haproxy' ? readHaproxyStats(session, np.healthPort).catch(() => [] as ServerStats[]) : [],
    np.staticPod
      ? proxyPodStatus(session, np, np.staticPod).then(proxyPodState)
      : (facts.services.find((s) => s.name === NODE_PROXY_SERVICE)?.active ?? 'unknown'),
  ]);
  return { host: name, service, health, backends: backends.filter((b) => b.backend === 'kube_apiserver'), drift };
}

/** Each master some proxy does not count UP, once, with the hosts whose proxy says so (fifty nodes make one line, not fifty). */
function proxiesMissing(proxies: readonly ProxyStatus[]): string[] {
  const byMaster = new Map<string, { status: string; hosts: string[] }>();
  for (const p of proxies) {
    for (const b of p.backends.filter((x) => x.status !== 'UP')) {
      const seen = byMaster.get(b.server) ?? byMaster.set(b.server, { status: `${b.status}: ${foundByCheck(b)}`, hosts: [] }).get(b.server)!;
      seen.hosts.push(p.host);
    }
  }
  const some = (hosts: readonly string[]) => (hosts.length <= 3 ? hosts.join(', ') : `${hosts.slice(0, 3).join(', ')} and ${hosts.length - 3} more`);
  return [...byMaster].map(([master, { status, hosts }]) => `the local proxy of ${hosts.length} of ${proxies.length} hosts (${some(hosts)}) has ${master} ${status}`);
}

export async function collectStatus(inv: Inventory): Promise<ClusterStatus> {
  const connected = await connectAll(applyTargets(inv));
  // One probe per host, of every role it has: a load balancer that is also a node is read once.
  const probes = new Map<string, Promise<HostFacts>>();
  const factsOf = (name: string, session: Session) => probes.get(name) ?? probes.set(name, gatherFacts(session, probeFor(inv, name))).get(name)!;
  try {
    const proxies = await Promise.all(
      proxyHosts(inv).map(async (h): Promise<ProxyStatus> => {
        const c = connected.find((x) => x.target.name === h.name)!;
        const unreachable = (error: string): ProxyStatus => ({ host: h.name, error, service: 'unknown', health: '-', backends: [], drift: [] });
        if (!c.session) return unreachable(c.error.message);
        const session = c.session;
        return factsOf(h.name, session).then((facts) => proxyStatus(inv, h.name, session, facts)).catch((e: unknown) => unreachable(e instanceof Error ? e.message : String(e)));
      }),
    );
    const lbs = await Promise.all(
      connected.filter((c) => inv.lbs.some((lb) => lb.name === c.target.name)).map(async (c): Promise<LbStatus> => {
        const lb = inv.lbs.find((h) => h.name === c.target.name)!;
        const unreachable = (error: string): LbStatus => ({
          host: lb.name, roles: rolesOf(inv, lb.name), error, holdsVip: false, vrrp: 'UNKNOWN', priority: lb.priority, effectivePriority: 0, services: {}, backends: [], drift: [],
        });
        if (!c.session) return unreachable(c.error.message);
        const session = c.session;
        return factsOf(lb.name, session).then((facts) => lbStatus(inv, lb.name, session, facts)).catch((e: unknown) => unreachable(e instanceof Error ? e.message : String(e)));
      }),
    );
    const { source: served, certificate } = await firstCertificate(inv, (s) => readCertificate(s.address, s.port, certSans(inv), { dnsName: inv.dnsName, inventory: inv.file }));
    const holders = lbs.filter((s) => s.holdsVip).map((s) => s.host);
    const problems: string[] = [];
    if (inv.vip && holders.length === 0) problems.push(`no load balancer holds the VIP ${inv.vip.address}`);
    if (inv.vip && holders.length > 1) problems.push(`SPLIT BRAIN: ${holders.join(' and ')} all hold the VIP ${inv.vip.address}; clients reach whichever answered ARP last`);
    for (const s of lbs) {
      if (s.error) {
        problems.push(`${s.host}: unreachable (${s.error})`);
        continue;
      }
      for (const [svc, state] of Object.entries(s.services)) if (state !== 'active') problems.push(`${s.host}: ${svc} is ${state}`);
      if (s.vrrp === 'FAULT') problems.push(`${s.host}: keepalived is in FAULT (its haproxy check fails), so it cannot take the VIP`);
      for (const b of s.backends) if (b.status !== 'UP') problems.push(`${s.host}: haproxy has ${b.server} ${b.status}: ${foundByCheck(b)}`);
      if (s.drift.length > 0) problems.push(`${s.host}: differs from hosts.yaml (${s.drift.length} change${s.drift.length === 1 ? '' : 's'} kha apply would make)`);
    }
    for (const p of proxies) {
      if (p.error) problems.push(`${p.host}: unreachable (${p.error})`);
      else if (p.service !== 'active') problems.push(`${p.host}: its local proxy (kha-node-proxy) is ${p.service}`);
      else if (p.health !== '200') problems.push(`${p.host}: its local proxy reaches no apiserver (health ${p.health}): can it reach the masters' apiserver ports?`);
      if (p.drift.length > 0) problems.push(`${p.host}: its local proxy differs from hosts.yaml (${p.drift.length} change${p.drift.length === 1 ? '' : 's'} kha apply would make)`);
    }
    problems.push(...proxiesMissing(proxies));
    if (certificate.error) problems.push(`no TLS answer ${served.through}: ${certificate.error}`);
    else if (certificate.missing.length > 0) {
      problems.push(`the apiserver certificate served ${served.through} lacks ${certificate.missing.join(' and ')} of kha's certSANs: clients get an x509 error`);
    }
    const apiservers = inv.masters.filter((m) => !inv.lbs.some((lb) => lb.name === m.name)).map((m) => ({ host: m.name, roles: rolesOf(inv, m.name) }));
    return { vip: inv.vip ? `${inv.vip.address}:${inv.port}` : null, holders, lbs, apiservers, proxies, certificate, certificateRead: served.through, problems, healthy: problems.length === 0 };
  } finally {
    await Promise.allSettled(connected.map((c) => c.session?.close()));
  }
}
