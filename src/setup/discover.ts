import type { HostFacts, ProbeRequest } from '../facts/types.js';
import { parseCidr } from '../inventory/addresses.js';
import { markerPath } from '../tasks/services.js';
import { DEDICATED } from '../topology/dedicated/index.js';
import type { Topology } from '../topology/topology.js';
import type { Session } from '../transport/session.js';

// The wizard's first look at a load balancer, before there is a hosts.yaml:
// the same probe apply runs (facts/), asked about the host's own address
// instead of a VIP not chosen yet.

export interface LbFinding {
  facts: HostFacts;
  /** The interface holding the host's address, and that address with its prefix. */
  interface?: { name: string; cidr: string; prefix: number };
  /** Comments for hosts.yaml: what was found. */
  notes: string[];
}

/** keepalived and haproxy as host services: what the host topologies manage, and what static pods must not find running beside them. */
const HOST_SERVICES = DEDICATED.services;

function discoveryRequest(address: string, masters: readonly { name: string; address: string }[], topology: Topology): ProbeRequest {
  return {
    vip: address,
    files: [...topology.files.map((f) => f.path), ...topology.services.map(markerPath)],
    directories: [],
    services: [...HOST_SERVICES],
    sysctls: [],
    selinuxBooleans: [],
    apiservers: masters.map((m) => ({ name: m.name, address: m.address, port: 6443 })),
  };
}

/** The render catalogue's id of each service's own configuration file. */
const MAIN_CONFIG = { keepalived: 'keepalived.conf', haproxy: 'haproxy.cfg' } as const;

/**
 * What a person should know about the keepalived and haproxy already on the
 * host, and what apply will do to them. A topology without services (static
 * pods) runs neither on the host: a host service found there reads the files
 * kha writes for the pod, and would fight it for the VIP or the port.
 */
function existing(f: HostFacts, topology: Topology): string[] {
  const notes: string[] = [];
  const hostServices = topology.services.length > 0;
  for (const s of HOST_SERVICES) {
    const version = f.packages[s];
    const state = f.services.find((x) => x.name === s)?.active ?? 'inactive';
    if (!version) continue;
    const conf = f.files.find((x) => x.path === topology.files.find((spec) => spec.id === MAIN_CONFIG[s])?.path);
    const ours = conf?.content?.startsWith('# Managed by kha') ?? false;
    const replaced = conf?.exists && !ours ? `apply replaces ${conf.path} and keeps it as ${conf.path}.kha-bak` : undefined;
    if (!hostServices) {
      const what = `${s} ${version} is installed on the host (${state}), which the static pod does not use${replaced ? `; ${replaced}` : ''}`;
      notes.push(state === 'active' ? `${what}: stop it (systemctl disable --now ${s}), or it fights the pod for ${s === 'keepalived' ? 'the VIP' : 'its port'}` : `${what}: keep it stopped and disabled`);
    } else if (ours) notes.push(`${s} ${version} (${state}) runs kha's configuration already`);
    else if (conf?.exists) notes.push(`${s} ${version} (${state}) runs a configuration kha did not write: ${replaced}`);
    else notes.push(`${s} ${version} installed (${state}), not configured`);
  }
  return notes;
}

/** How facts are read: gatherFacts on real hosts. */
export type Gather = (session: Session, req: ProbeRequest) => Promise<HostFacts>;

export async function discoverLb(
  gather: Gather,
  session: Session,
  address: string,
  masters: readonly { name: string; address: string }[],
  topology: Topology,
): Promise<LbFinding> {
  const facts = await gather(session, discoveryRequest(address, masters, topology));
  const held = facts.interfaces.flatMap((i) => i.addresses.filter((a) => parseCidr(a).address === address).map((cidr) => ({ name: i.name, cidr })));
  const first = held[0];
  const os = facts.os.prettyName || `${facts.os.id} ${facts.os.versionId}`;
  const notes: string[] = [];
  if (first) {
    notes.push(`found on ${session.host}: ${first.name} ${first.cidr}, ${os}`);
    return { facts, interface: { name: first.name, cidr: first.cidr, prefix: parseCidr(first.cidr).prefix ?? 32 }, notes: [...notes, ...existing(facts, topology)] };
  }
  return { facts, notes: [`found on ${session.host}: no interface holds ${address}, ${os}`, ...existing(facts, topology)] };
}
