import type { HostFacts } from '../facts/types.js';
import { inSubnet, parseCidr } from '../inventory/addresses.js';
import { type Inventory, type LoadBalancer, type SshSettings, vipOf } from '../inventory/model.js';
import { kubeconfigsPointable, proxyPortsFree } from '../node-proxy/preflight.js';
import { hostRoles } from '../topology/roles.js';
import { holdsVip, interfaceFor } from '../facts/derived.js';
import { INTERFACE_NAME_RULE, isInterfaceName } from '../inventory/interface-name.js';
import type { Session } from '../transport/session.js';
import { shellQuote as q } from '../shell/quote.js';
import { readSeen, seenKey } from '../verify/apiservers-seen.js';
import { keepalivedConverged } from './converged.js';
import { vrrpPath } from './vrrp-path-check.js';

// Everything that can be known to fail is checked on every host before
// anything changes anywhere. A check reports problems; it never changes a host.

export interface PreflightContext {
  inv: Inventory;
  facts: ReadonlyMap<string, HostFacts>;
  sessions: ReadonlyMap<string, Session>;
}

export interface PreflightProblem {
  host: string;
  check: string;
  message: string;
  /**
   * A warning does not stop the run: a check that could not run on a host
   * says so, rather than passing as if it had looked.
   */
  warning?: true;
}

export interface Check {
  name: string;
  run(ctx: PreflightContext): Promise<PreflightProblem[]>;
}

type PerHost = (inv: Inventory, lb: LoadBalancer, facts: HostFacts) => string[];

function perHost(name: string, fn: PerHost): Check {
  return {
    name,
    async run({ inv, facts }) {
      return inv.lbs.flatMap((lb) => {
        const f = facts.get(lb.name);
        return f ? fn(inv, lb, f).map((message) => ({ host: lb.name, check: name, message })) : [];
      });
    },
  };
}

const SUPPORTED: Record<string, string> = { debian: '11', ubuntu: '20.04', rhel: '7', centos: '7', rocky: '8', almalinux: '8', ol: '7' };

/** Dotted versions compared part by part: 9.10 is newer than 9.9. */
export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const b = min.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/** The keepalived configuration on the host is kha's, or one written by hand for this VIP. */
export function configuredForVip(inv: Inventory, facts: HostFacts): boolean {
  const conf = facts.files.find((f) => f.path === '/etc/keepalived/keepalived.conf')?.content ?? '';
  const mentions = new RegExp(`(^|[^\\d.])${vipOf(inv).address.replaceAll('.', '\\.')}([^\\d.]|$)`).test(conf);
  return conf.startsWith('# Managed by kha') || mentions;
}

/**
 * The VIP is held by a keepalived meant for it: kha's own, or one set up by
 * hand for this VIP (a blog-post setup kha is taking over). Anything else
 * holding the address is not ours to move.
 */
function keptForThisVip(inv: Inventory, facts: HostFacts): boolean {
  const ka = facts.services.find((s) => s.name === 'keepalived');
  return ka?.active === 'active' && configuredForVip(inv, facts);
}

/** Which hosts a check of every host looks at: all that apply changes, or only those that get the local proxy. */
type HostsChecked = 'all' | 'proxy-hosts';

/**
 * A check of what every host apply changes needs alike, load balancers and
 * the hosts that get the local proxy (topology/roles.ts hostRoles): run on
 * each host whose facts were gathered.
 */
function everyHost(name: string, fn: (host: { name: string; ssh: SshSettings }, facts: HostFacts) => string[], which: HostsChecked = 'all'): Check {
  return {
    name,
    async run({ inv, facts }) {
      return [...facts].flatMap(([hostName, f]) => {
        const { lb, proxy } = hostRoles(inv, hostName);
        const host = which === 'all' ? (lb ?? proxy) : proxy;
        return host ? fn(host, f).map((message) => ({ host: hostName, check: name, message })) : [];
      });
    },
  };
}

const privileges = everyHost('privileges', (host, f) =>
  f.uid === 0 ? [] : [`commands run as uid ${f.uid}, not root: log in as root or set ssh.sudo: true for ${host.ssh.user}`],
);

function supportedOs(_host: { name: string }, f: HostFacts): string[] {
  const out: string[] = [];
  const min = SUPPORTED[f.os.id];
  if (min === undefined || !versionAtLeast(f.os.versionId, min)) {
    out.push(`${f.os.prettyName || f.os.id} is not supported; kha supports Debian 11+, Ubuntu 20.04+, RHEL/CentOS 7+, Rocky and AlmaLinux 8+`);
  }
  if (!f.systemd) out.push('systemd is not PID 1; kha manages its services (keepalived, haproxy, kha-node-proxy) as systemd services');
  if (f.packageManager === 'none') out.push('no package manager found (apt-get, dnf or yum)');
  return out;
}

/**
 * A supported distribution with systemd and a package manager: what kha
 * needs where it installs and runs services. `proxy-hosts`: for a topology
 * that installs nothing on its load balancers (static pods), only where the
 * local proxy goes.
 */
export function osCheck(which: HostsChecked = 'all'): Check {
  return everyHost('os', supportedOs, which);
}

const os = osCheck();

/** A name read from a host, as a message may show it: quoted when it is not one kha would accept (a control character cannot reach the terminal). */
function shown(name: string): string {
  return isInterfaceName(name) ? name : JSON.stringify(name);
}

const iface = perHost('interface', (inv, lb, f) => {
  const name = interfaceFor(lb, f);
  if (name === undefined && f.routeToVip !== null) {
    return [`the route to the VIP goes through an interface named ${JSON.stringify(f.routeToVip)}, which kha does not write into keepalived.conf (${INTERFACE_NAME_RULE}); set lb[].interface in ${inv.file}`];
  }
  if (name === undefined) return [`no route to the VIP ${vipOf(inv).address}; set lb[].interface in ${inv.file}`];
  const found = f.interfaces.find((i) => i.name === name);
  if (!found) return [`interface ${name} does not exist (found: ${f.interfaces.map((i) => shown(i.name)).join(', ')}); fix lb[].interface in ${inv.file}`];
  const own = found.addresses.find((a) => parseCidr(a).address === lb.address);
  if (!own) return [`interface ${name} does not hold ${lb.address} (it has ${found.addresses.join(', ') || 'no IPv4 address'}); kha speaks VRRP from that address`];
  const out: string[] = [];
  if (!found.up) out.push(`interface ${name} is down`);
  const { prefix } = parseCidr(own);
  if (prefix !== null && !inSubnet(vipOf(inv).address, { address: lb.address, prefix })) {
    out.push(`the VIP ${vipOf(inv).address} is outside ${name}'s subnet ${own}; it must be in the load balancers' subnet`);
  }
  return out;
});

const firewall = perHost('firewall', (inv, _lb, f) => {
  const wanted = inv.security.firewall;
  if (wanted !== 'firewalld' && wanted !== 'ufw') return [];
  if (f.firewall.backend === wanted && f.firewall.active) return [];
  const how = wanted === 'firewalld' ? 'systemctl enable --now firewalld' : 'ufw enable';
  return [`security.firewall is ${wanted}, but ${wanted} is not running here: start it (${how}) or set security.firewall: auto`];
});

/** `kept`: whether what holds the VIP on a host is a keepalived meant for it (a topology that runs keepalived otherwise says how it knows). */
export function vipCheck(kept: (inv: Inventory, facts: HostFacts) => boolean): Check {
  return {
    name: 'vip',
    async run({ inv, facts, sessions }) {
      const holders = inv.lbs.filter((lb) => {
        const f = facts.get(lb.name);
        return f !== undefined && holdsVip(inv, f);
      });
      const foreign = holders.filter((lb) => !kept(inv, facts.get(lb.name)!));
      const problems = foreign.map((lb) => ({
        host: lb.name,
        check: 'vip',
        message: `already holds the VIP ${vipOf(inv).address}, and no keepalived configured for this VIP runs there: remove the address (or stop what put it there) first`,
      }));
      if (holders.length > 0) return problems;
      // Nobody of ours holds it: make the kernel resolve it from one load
      // balancer; an ARP answer means another machine owns the address. (A TCP
      // attempt triggers ARP without needing ping, which minimal images lack.)
      const [first] = inv.lbs.filter((lb) => sessions.has(lb.name));
      if (!first) return problems;
      const a = q(vipOf(inv).address);
      const r = await sessions
        .get(first.name)!
        .exec(`timeout 1 bash -c 'exec 3<>/dev/tcp/'${a}'/${inv.port}' >/dev/null 2>&1; sleep 0.2; ip neigh show ${a}`, { timeoutMs: 10_000 });
      const neigh = r.stdout.trim();
      if (/lladdr/.test(neigh) && !/FAILED|INCOMPLETE/.test(neigh)) {
        problems.push({
          host: first.name,
          check: 'vip',
          message: `the VIP ${vipOf(inv).address} already answers on the network (${neigh}); choose a free address or remove it from the machine that has it`,
        });
      }
      return problems;
    },
  };
}

const vip = vipCheck(keptForThisVip);

/**
 * From the probe, which tries every apiserver from every load balancer. An
 * apiserver that does not answer stops nothing: before kubeadm init none
 * does, and the endpoint is built first. One that answered through this
 * endpoint before is said now, before anything changes; the end of the run
 * judges it (see verify/endpoint.ts).
 */
const apiserverReachable: Check = {
  name: 'apiserver-reachable',
  async run({ inv, facts }) {
    const seen = readSeen(facts.values());
    return inv.lbs.flatMap((lb) => {
      const f = facts.get(lb.name);
      if (!f) return [];
      if (f.apiserversReachable === null) {
        return [{ host: lb.name, check: 'apiserver-reachable', warning: true as const, message: 'not checked: this host has no bash, whose /dev/tcp kha uses to try each apiserver' }];
      }
      const reachable = f.apiserversReachable;
      return inv.masters
        .filter((m) => seen.has(seenKey(m)) && !reachable.includes(m.name))
        .map((m) => ({
          host: lb.name,
          check: 'apiserver-reachable',
          warning: true as const,
          message: `cannot connect to ${m.name}'s apiserver at ${m.address}:${m.apiserverPort}, which answered through this endpoint before; check that it runs and that no firewall between them drops the port`,
        }));
    });
  },
};

/**
 * Listens for VRRP adverts for a few seconds: another group with the same
 * virtual_router_id on the segment would fight ours for the VIP. Skipped once
 * kha's keepalived runs everywhere (the adverts heard then are our own).
 */
const LISTEN_SECONDS = 3;
const routerId: Check = {
  name: 'router-id',
  async run({ inv, facts, sessions }) {
    if (keepalivedConverged(inv, facts)) return [];
    const ours = new Set(inv.lbs.map((lb) => lb.address));
    const script = [
      `if command -v tcpdump >/dev/null 2>&1; then timeout ${LISTEN_SECONDS} tcpdump -nl -i any 'ip proto 112' 2>/dev/null | sed -n 's/.*IP \\([0-9.]*\\) > .*vrid \\([0-9]*\\).*/\\1 \\2/p';`,
      `elif command -v python3 >/dev/null 2>&1; then python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112); s.settimeout(0.5); end = time.time() + ${LISTEN_SECONDS}
while time.time() < end:
    try: d, a = s.recvfrom(2048)
    except socket.timeout: continue
    h = (d[0] & 15) * 4
    print(a[0], d[h + 1])
';`,
      'else echo unavailable; fi',
    ].join('\n');
    const listener = inv.lbs.find((lb) => sessions.has(lb.name));
    if (!listener) return [];
    const r = await sessions.get(listener.name)!.exec(script, { timeoutMs: (LISTEN_SECONDS + 10) * 1000 });
    if (r.stdout.trim() === 'unavailable') {
      return [
        {
          host: listener.name,
          check: 'router-id',
          warning: true,
          message: `not checked whether another VRRP group uses virtual_router_id ${inv.keepalived.routerId} on this segment: the host has neither tcpdump nor python3 to listen with (install either, or make sure yourself that no other keepalived uses that id)`,
        },
      ];
    }
    const clash = r.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([src, id]) => src && Number(id) === inv.keepalived.routerId && !ours.has(src));
    return clash.length === 0
      ? []
      : [
          {
            host: listener.name,
            check: 'router-id',
            message: `${clash[0]![0]} already sends VRRP adverts for virtual_router_id ${inv.keepalived.routerId} on this segment; choose another id in keepalived.virtual_router_id`,
          },
        ];
  },
};

export const CHECKS: ReadonlyMap<string, Check> = new Map(
  [privileges, os, iface, firewall, vip, apiserverReachable, vrrpPath, routerId, proxyPortsFree, kubeconfigsPointable].map((c) => [c.name, c]),
);
