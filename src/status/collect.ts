import { gatherFacts } from '../facts/gather.js';
import type { Inventory } from '../inventory/model.js';
import { effectivePriority } from '../explain/explain.js';
import { certSans } from '../kubeadm/handoff.js';
import { readCertificate, type CertificateCheck } from '../observe/certificate.js';
import { foundByCheck, readHaproxyStats, type ServerStats } from '../observe/haproxy-stats.js';
import type { VrrpState } from '../observe/keepalived-state.js';
import { describeChange } from '../plan/changes.js';
import { planHost, probeRequest } from '../plan/plan.js';
import { topologyOf } from '../topology/of.js';
import { rolesOf } from '../topology/roles.js';
import { holdsVip } from '../facts/derived.js';
import { lbTargets } from '../execute/targets.js';
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

export interface ClusterStatus {
  vip: string;
  holders: string[];
  lbs: LbStatus[];
  /** Masters that only run their apiserver (reached through haproxy, not through SSH). */
  apiservers: Array<{ host: string; roles: string[] }>;
  certificate: CertificateCheck;
  problems: string[];
  healthy: boolean;
}

async function lbStatus(inv: Inventory, name: string, session: Session): Promise<LbStatus> {
  const lb = inv.lbs.find((h) => h.name === name)!;
  const topology = topologyOf(inv);
  const facts = await gatherFacts(session, probeRequest(inv));
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

export async function collectStatus(inv: Inventory): Promise<ClusterStatus> {
  const connected = await connectAll(lbTargets(inv));
  try {
    const lbs = await Promise.all(
      connected.map(async (c): Promise<LbStatus> => {
        const lb = inv.lbs.find((h) => h.name === c.target.name)!;
        const unreachable = (error: string): LbStatus => ({
          host: lb.name, roles: rolesOf(inv, lb.name), error, holdsVip: false, vrrp: 'UNKNOWN', priority: lb.priority, effectivePriority: 0, services: {}, backends: [], drift: [],
        });
        if (!c.session) return unreachable(c.error.message);
        return lbStatus(inv, lb.name, c.session).catch((e: unknown) => unreachable(e instanceof Error ? e.message : String(e)));
      }),
    );
    const certificate = await readCertificate(inv.vip.address, inv.port, certSans(inv), { dnsName: inv.dnsName, inventory: inv.file });
    const holders = lbs.filter((s) => s.holdsVip).map((s) => s.host);
    const problems: string[] = [];
    if (holders.length === 0) problems.push(`no load balancer holds the VIP ${inv.vip.address}`);
    if (holders.length > 1) problems.push(`SPLIT BRAIN: ${holders.join(' and ')} all hold the VIP ${inv.vip.address}; clients reach whichever answered ARP last`);
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
    if (certificate.error) problems.push(`no TLS answer through the VIP: ${certificate.error}`);
    else if (certificate.missing.length > 0) {
      problems.push(`the apiserver certificate served through the VIP lacks ${certificate.missing.join(' and ')} of kha's certSANs: clients get an x509 error`);
    }
    const apiservers = inv.masters.filter((m) => !inv.lbs.some((lb) => lb.name === m.name)).map((m) => ({ host: m.name, roles: rolesOf(inv, m.name) }));
    return { vip: `${inv.vip.address}:${inv.port}`, holders, lbs, apiservers, certificate, problems, healthy: problems.length === 0 };
  } finally {
    await Promise.allSettled(connected.map((c) => c.session?.close()));
  }
}
