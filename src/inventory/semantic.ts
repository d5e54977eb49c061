import { describeSubnet, inSubnet, ipv4ToInt, networkOf, parseCidr } from './addresses.js';
import type { Finding } from './describe.js';
import { DEFAULT_MANIFESTS_DIR, nodeProxyDefaults, type HostsFile } from './schema.js';
import { AUTH_PASS_MAX_BYTES, byteLength, envSecretComplaint, envValue } from './secrets.js';
import { showText } from './show.js';
import { NODE_PROXY_DIR } from '../node-proxy/paths.js';
import { STATE_DIR } from '../tasks/directories.js';

// Checks that relate one value to another. They run on a file that already
// has the right shape, and report every finding, not only the first.

type LbEntry = NonNullable<HostsFile['lb']>[number];

/** The load balancers hosts.yaml lists: none when it leaves lb out (a cluster with no VIP). */
export function lbList(f: HostsFile): readonly LbEntry[] {
  return f.lb ?? [];
}

const TOP_PRIORITY = 150;
/**
 * Default priority of the i-th of `count` load balancers that has none: 150,
 * 100, 50 (closer when more than three). After a goodbye advert every backup
 * waits its skew time, (256 − priority) / 256 of an advert, and the first to
 * take over silences the rest only if its advert reaches them before their
 * own timers run out: 50 apart that is 20 ms at a 0.1 s advert, 10 apart only
 * 4 ms, and a second master for a moment sends a gratuitous ARP that points
 * clients at a host giving the VIP up.
 */
export function defaultPriority(index: number, count: number, taken: ReadonlySet<number>): number {
  const step = Math.max(1, Math.min(50, Math.floor(TOP_PRIORITY / count)));
  let p = TOP_PRIORITY - step * index;
  while (taken.has(p) || p < 1) p = p < 1 ? 254 : p - 1;
  return p;
}

/** Priorities as they will be: explicit ones kept, the rest by order. */
export function resolvePriorities(lbs: readonly LbEntry[]): number[] {
  const taken = new Set(lbs.flatMap((h) => (h.priority === undefined ? [] : [h.priority])));
  return lbs.map((h, i) => {
    if (h.priority !== undefined) return h.priority;
    const p = defaultPriority(i, lbs.length, taken);
    taken.add(p);
    return p;
  });
}

/** VRRPv2's advert interval: whole seconds are all it has. */
export const DEFAULT_V2_ADVERT_S = 1;
/**
 * VRRPv3's, chosen from bench/failover.mjs --adverts (README, "How fast"):
 * 0.1 s brings a crash and a lost link under 0.5 s (0.30 s each), where 0.2 s
 * does not (0.60, 0.55 s), with no false failover in 10 minutes of full CPU
 * load and 1 % packet loss; 0.05 s is faster still, but a backup then takes
 * over after 0.17 s of silence, shorter than the pauses a virtual machine
 * can take.
 */
export const DEFAULT_V3_ADVERT_S = 0.1;

/** VRRP version and advert interval as kha will write them. */
export function resolveVrrp(k: HostsFile['keepalived']): { version: 2 | 3; advertInt: number } {
  const version = k.vrrp_version ?? (k.auth_pass !== undefined ? 2 : 3);
  const advertInt = k.advert_int ?? (version === 2 ? DEFAULT_V2_ADVERT_S : DEFAULT_V3_ADVERT_S);
  return { version, advertInt };
}

/**
 * A VIP and its load balancers come together: load balancers need a VIP to
 * hold, a VIP needs hosts to hold it. Without either, the local proxy is the
 * only endpoint (source 001), so some host must get it.
 */
function checkEndpoint(f: HostsFile, out: Finding[]): void {
  const proxied = f.nodes !== undefined || f.node_proxy?.masters === true;
  if (f.lb !== undefined && f.cluster.vip === undefined) {
    out.push({ path: ['cluster', 'vip'], atKey: false, message: "is missing; add it: the address the load balancers hold (like 10.77.0.10/24). A cluster with no VIP leaves out lb too, and its nodes reach the apiservers through their local proxy" });
  }
  if (f.lb === undefined) {
    for (const [key, what] of [['vip', 'a VIP'], ['dns_name', 'a DNS name for the VIP']] as const) {
      if (f.cluster[key] === undefined) continue;
      out.push({
        path: ['cluster', key],
        atKey: true,
        message: `${what} with no load balancer to hold it: list the load balancers under lb, or remove cluster.${key} for a cluster whose only endpoint is each host's local proxy`,
      });
    }
    // node_proxy with no host to run on has its own finding (checkNodeProxy).
    if (!proxied && f.node_proxy === undefined) {
      out.push({
        path: ['lb'],
        atKey: false,
        message: 'is missing, and no host gets the local proxy either: kha builds nothing. List the load balancers under lb (with cluster.vip), or the nodes that get the local proxy under nodes (or node_proxy.masters: true)',
      });
    }
    if (f.static_pods !== undefined) {
      out.push({
        path: ['static_pods'],
        atKey: true,
        message: 'runs keepalived and haproxy for a VIP, and there is no load balancer (lb) to run them: remove static_pods, or list the masters that hold the VIP under lb with cluster.vip',
      });
    }
  }
}

function checkVip(f: HostsFile, out: Finding[]): void {
  if (f.cluster.vip === undefined) return;
  const { address, prefix } = parseCidr(f.cluster.vip);
  const hosts = [
    ...lbList(f).map((h, i) => ({ path: ['lb', i, 'address'] as const, h })),
    ...f.masters.map((h, i) => ({ path: ['masters', i, 'address'] as const, h })),
    ...(f.nodes ?? []).map((h, i) => ({ path: ['nodes', i, 'address'] as const, h })),
  ];
  for (const { path, h } of hosts) {
    if (h.address === address) {
      out.push({
        path: [...path],
        atKey: false,
        message: `${h.address} is the VIP; the VIP must be a free address that no host owns, or keepalived and the host would fight over it`,
      });
    }
  }
  if (prefix === null) return;
  const cidr = { address, prefix };
  if (prefix <= 30) {
    const ip = ipv4ToInt(address);
    const net = networkOf(cidr);
    if (ip === net || ip === net + 2 ** (32 - prefix) - 1) {
      out.push({
        path: ['cluster', 'vip'],
        atKey: false,
        message: `${address} is the ${ip === net ? 'network' : 'broadcast'} address of ${describeSubnet(cidr)}; choose a free host address in that subnet`,
      });
    }
  }
  lbList(f).forEach((h, i) => {
    if (!inSubnet(h.address, cidr)) {
      out.push({
        path: ['lb', i, 'address'],
        atKey: false,
        message: `${h.address} is outside the VIP's subnet ${describeSubnet(cidr)}; VRRP moves the VIP only between hosts on one subnet: fix the address, or the VIP's prefix if the subnet is larger`,
      });
    }
  });
}

function checkPriorities(f: HostsFile, out: Finding[]): void {
  const seen = new Map<number, number>();
  lbList(f).forEach((h, i) => {
    if (h.priority === undefined) return;
    const first = seen.get(h.priority);
    if (first !== undefined) {
      out.push({
        path: ['lb', i, 'priority'],
        atKey: false,
        message: `priority ${h.priority} is also lb[${first}]'s (${lbList(f)[first]?.name}); priorities must differ so that exactly one host is the primary: change one, or leave priority out to number them by order`,
      });
    } else seen.set(h.priority, i);
  });
}

function checkVrrp(f: HostsFile, out: Finding[]): void {
  const k = f.keepalived;
  const { version, advertInt } = resolveVrrp(k);
  // One problem with advert_int is told once: the auth_pass conflict explains the whole-seconds rule too.
  let advertToldOf = false;
  if (k.auth_pass !== undefined) {
    const bytes = byteLength(k.auth_pass);
    if (!k.auth_pass.startsWith('env:') && bytes > AUTH_PASS_MAX_BYTES) {
      out.push({
        path: ['keepalived', 'auth_pass'],
        atKey: false,
        message: `is ${bytes} bytes; VRRP PASS authentication carries at most ${AUTH_PASS_MAX_BYTES} (keepalived would silently cut it): shorten it, or remove auth_pass and use kha's default, VRRPv3 with unicast peers and firewall rules`,
      });
    }
    if (k.vrrp_version === 3) {
      out.push({
        path: ['keepalived', 'auth_pass'],
        atKey: true,
        message: 'cannot be used with vrrp_version 3: VRRPv3 has no authentication (RFC 5798). Remove auth_pass and rely on unicast peers and the firewall, or use vrrp_version 2',
      });
    } else if (k.advert_int !== undefined && k.advert_int < 1) {
      advertToldOf = true;
      out.push({
        path: ['keepalived', 'advert_int'],
        atKey: false,
        message: `${k.advert_int} s needs VRRPv3, which has no authentication, but auth_pass asks for VRRPv2 (whole-second adverts only: a silent holder is replaced after about 3.45 s at advert_int 1). Remove auth_pass for sub-second failover (unicast peers and firewall rules guard the adverts), or set advert_int to 1 or more`,
      });
    }
  }
  if (version === 2 && !Number.isInteger(advertInt) && !advertToldOf) {
    out.push({
      path: ['keepalived', 'advert_int'],
      atKey: false,
      message: `${advertInt} s is not whole seconds, and VRRPv2 counts adverts in whole seconds; use an integer or vrrp_version 3`,
    });
  }
  if (version === 3) {
    if (Math.abs(Math.round(advertInt * 100) - advertInt * 100) > 1e-9) {
      out.push({
        path: ['keepalived', 'advert_int'],
        atKey: false,
        message: `${advertInt} s is not a multiple of 0.01 s, the unit of VRRPv3 adverts; use ${Math.round(advertInt * 100) / 100}`,
      });
    }
    if (advertInt > 40.95) {
      out.push({ path: ['keepalived', 'advert_int'], atKey: false, message: `${advertInt} s is above VRRPv3's maximum of 40.95 s; use at most 40.95` });
    }
  }
  if (k.check_timeout > k.check_interval) {
    out.push({
      path: ['keepalived', 'check_timeout'],
      atKey: false,
      message: `${k.check_timeout} s is longer than check_interval (${k.check_interval} s); a check must end before the next one starts: lower check_timeout or raise check_interval`,
    });
  }
}

function checkHaproxy(f: HostsFile, out: Finding[]): void {
  const h = f.haproxy;
  if (f.lb !== undefined && h.monitor_port === f.cluster.port) {
    // Reported at cluster.port: monitor_port is usually the default, not written in the file.
    out.push({
      path: ['cluster', 'port'],
      atKey: false,
      message: `${f.cluster.port} is also haproxy.monitor_port, the port of haproxy's own health page; choose another cluster.port, or set haproxy.monitor_port to a free port`,
    });
  }
  if (h.check_fastinter_ms > h.check_inter_ms) {
    out.push({
      path: ['haproxy', 'check_fastinter_ms'],
      atKey: false,
      message: `${h.check_fastinter_ms} ms is slower than check_inter_ms (${h.check_inter_ms} ms); fastinter is meant to speed up checks while a server changes state: use at most ${h.check_inter_ms}`,
    });
  }
}

/**
 * Names and addresses must each mean one host; a host may appear under lb and
 * masters, or lb and nodes (it then runs both roles). A master is never listed
 * under nodes: node_proxy.masters gives the masters the proxy (checkNodeListedAsMaster).
 */
function checkIdentity(f: HostsFile, out: Finding[]): void {
  type Entry = { list: 'lb' | 'masters' | 'nodes'; index: number; name: string; address: string };
  const entries: Entry[] = [
    ...lbList(f).map((h, index) => ({ list: 'lb' as const, index, name: h.name, address: h.address })),
    ...f.masters.map((h, index) => ({ list: 'masters' as const, index, name: h.name, address: h.address })),
    ...(f.nodes ?? []).map((h, index) => ({ list: 'nodes' as const, index, name: h.name, address: h.address })),
  ];
  const byName = new Map<string, Entry>();
  const byAddress = new Map<string, Entry>();
  const where = (e: Entry) => `${e.list}[${e.index}]`;
  for (const e of entries) {
    if (e.list === 'nodes' && checkNodeListedAsMaster(f, e.index, out)) continue;
    const sameName = byName.get(e.name);
    if (sameName) {
      if (sameName.list === e.list) {
        out.push({ path: [e.list, e.index, 'name'], atKey: false, message: `'${e.name}' is also ${where(sameName)}'s name; each host is listed once: rename one, or remove the repeat` });
      } else if (sameName.address !== e.address) {
        out.push({
          path: [e.list, e.index, 'address'],
          atKey: false,
          message: `'${e.name}' is ${sameName.address} in ${where(sameName)} but ${e.address} here; one name is one host: fix the address, or rename one of them`,
        });
      }
    } else byName.set(e.name, e);
    const sameAddress = byAddress.get(e.address);
    if (sameAddress) {
      if (sameAddress.list === e.list) {
        out.push({
          path: [e.list, e.index, 'address'],
          atKey: false,
          message: `${e.address} is also ${where(sameAddress)}'s (${sameAddress.name}) address; each host is listed once: fix the address, or remove the repeat`,
        });
      } else if (sameAddress.name !== e.name) {
        out.push({
          path: [e.list, e.index, 'name'],
          atKey: false,
          message: `${e.address} is '${sameAddress.name}' in ${where(sameAddress)}; a host in both lists (it runs both roles) must have the same name in both: use one name, or fix the address`,
        });
      }
    } else byAddress.set(e.address, e);
  }
}

/**
 * A master under nodes, by name or address: refused, whatever node_proxy
 * says. The proxy goes on the masters all together (node_proxy.masters), so
 * that one host has one place in the file and every master's kubelet is
 * treated alike. True when reported (the other identity checks then skip it).
 */
function checkNodeListedAsMaster(f: HostsFile, index: number, out: Finding[]): boolean {
  const node = f.nodes![index]!;
  const i = f.masters.findIndex((m) => m.name === node.name || m.address === node.address);
  if (i < 0) return false;
  const m = f.masters[i]!;
  const byName = m.name === node.name;
  const what = byName ? `'${node.name}' is also masters[${i}]` : `${node.address} is masters[${i}]'s (${m.name}) address`;
  const fix = f.node_proxy?.masters
    ? 'node_proxy.masters: true already gives every master the proxy: remove it from nodes'
    : 'a master gets the proxy with node_proxy.masters: true (every master, so their kubelets stop using the VIP), not by a place under nodes: remove it from nodes';
  out.push({ path: ['nodes', index, byName ? 'name' : 'address'], atKey: false, message: `${what}; ${fix}` });
  return true;
}

/** A host running haproxy and kube-apiserver cannot have both listen on one port. */
function checkColocated(f: HostsFile, out: Finding[]): void {
  f.masters.forEach((m, i) => {
    // Same name but another address is a different mistake, reported by checkIdentity.
    if (!lbList(f).some((l) => l.name === m.name && l.address === m.address)) return;
    if (m.apiserver_port === f.cluster.port) {
      out.push({
        path: ['masters', i, 'apiserver_port'],
        atKey: false,
        message: `${m.name} runs both haproxy and kube-apiserver, and both would listen on ${f.cluster.port}; set cluster.port to another port (8443 is usual) so haproxy can front the apiservers`,
      });
    }
    if (m.apiserver_port === f.haproxy.monitor_port) {
      out.push({
        path: ['masters', i, 'apiserver_port'],
        atKey: false,
        message: `${m.name} runs haproxy, whose health page uses port ${f.haproxy.monitor_port}; change haproxy.monitor_port`,
      });
    }
  });
}

/**
 * Static pods are started by a kubelet, and only the masters have one (kubeadm
 * installs it there): a load balancer that is not a master would get
 * manifests nobody reads. kha cannot mix the two kinds in one VRRP group.
 */
function checkStaticPods(f: HostsFile, out: Finding[]): void {
  if (f.static_pods === undefined) return;
  lbList(f).forEach((l, i) => {
    if (f.masters.some((m) => m.address === l.address)) return;
    out.push({
      path: ['lb', i, 'name'],
      atKey: false,
      message: `'${l.name}' is not a master, and static_pods runs keepalived and haproxy as static pods, which only a master's kubelet starts (a dedicated load balancer has none): list only masters under lb, or remove static_pods to install keepalived and haproxy as services`,
    });
  });
}

/**
 * Ports Kubernetes itself holds on a host, which the proxy must leave alone
 * (kubeadm's defaults): on every node the kubelet and kube-proxy, on a master
 * also etcd and the controllers (each on 127.0.0.1 at least).
 */
const KUBE_NODE_PORTS: ReadonlyMap<number, string> = new Map([
  [10248, "the kubelet's health port"],
  [10249, "kube-proxy's metrics port"],
  [10250, "the kubelet's API port"],
  [10256, "kube-proxy's health port"],
]);
const KUBE_MASTER_PORTS: ReadonlyMap<number, string> = new Map([
  [2379, "etcd's client port"],
  [2380, "etcd's peer port"],
  [10257, "kube-controller-manager's port"],
  [10259, "kube-scheduler's port"],
]);

/**
 * The local proxy (docs/node-proxy.md): it must have somewhere to run, and
 * its two ports on 127.0.0.1 must be free on every host that gets it: not
 * each other, not Kubernetes' own, not a master's apiserver (which listens
 * on every address), not a load balancer's haproxy on a host that is both.
 */
function checkNodeProxy(f: HostsFile, out: Finding[]): void {
  if (f.nodes === undefined && f.node_proxy === undefined) return;
  const np = f.node_proxy ?? nodeProxyDefaults;
  if (f.nodes === undefined && !np.masters) {
    out.push({
      path: ['node_proxy'],
      atKey: true,
      message: 'no host gets the proxy: list the nodes that get it under nodes, or set node_proxy.masters: true to put it on the masters, or remove node_proxy',
    });
    return;
  }
  const ports = [
    { key: 'port', port: np.port },
    { key: 'health_port', port: np.health_port },
  ] as const;
  if (np.check_inter_ms !== undefined && np.software === 'nginx') {
    out.push({
      path: ['node_proxy', 'check_inter_ms'],
      atKey: true,
      message: 'nginx checks no apiserver itself (its checks are passive: the connections that fail), so it has no check interval; remove check_inter_ms, or use software: haproxy',
    });
  } else if (np.check_inter_ms !== undefined && f.haproxy.check_fastinter_ms > np.check_inter_ms) {
    out.push({
      path: ['node_proxy', 'check_inter_ms'],
      atKey: false,
      message: `${np.check_inter_ms} ms is faster than haproxy.check_fastinter_ms (${f.haproxy.check_fastinter_ms} ms), the pace the proxy checks at while an apiserver changes state: use at least ${f.haproxy.check_fastinter_ms}`,
    });
  }
  if (np.port === np.health_port) {
    out.push({
      path: ['node_proxy', 'health_port'],
      atKey: false,
      message: `${np.port} is also node_proxy.port; the health page needs a port of its own: change one of them`,
    });
  }
  const proxied = [...(f.nodes ?? []), ...(np.masters ? f.masters : [])];
  for (const { key, port } of ports) {
    const taken = KUBE_NODE_PORTS.get(port) ?? (np.masters ? KUBE_MASTER_PORTS.get(port) : undefined);
    if (taken) {
      out.push({ path: ['node_proxy', key], atKey: false, message: `${port} is ${taken} on every ${KUBE_NODE_PORTS.has(port) ? 'node' : 'master'}; choose another node_proxy.${key}` });
      continue;
    }
    if (np.masters) {
      const clashes = f.masters.flatMap((m, i) => (m.apiserver_port === port ? [`masters[${i}].apiserver_port (${m.name})`] : []));
      if (clashes.length > 0) {
        out.push({
          path: ['node_proxy', key],
          atKey: false,
          message: `${port} is also ${clashes.join(', ')}: node_proxy.masters puts the proxy on the masters, and kube-apiserver listens on every address, 127.0.0.1 included; set node_proxy.${key} to a free port${key === 'port' ? ' (kubeconfigs then say https://127.0.0.1:<port>; 7443 is usual)' : ''}`,
        });
        continue;
      }
    }
    // A host that is a load balancer too runs the endpoint's haproxy beside the proxy.
    const both = lbList(f).filter((l) => proxied.some((h) => h.name === l.name && h.address === l.address)).map((l) => l.name);
    if (both.length === 0) continue;
    const lbKey =
      port === f.haproxy.monitor_port
        ? { what: "haproxy.monitor_port, the load balancers' health and statistics page on 127.0.0.1", fix: '' }
        : port === f.cluster.port && f.haproxy.bind === 'any'
          ? { what: "cluster.port, which a load balancer's haproxy takes on every address (haproxy.bind: any), 127.0.0.1 included", fix: ', or set haproxy.bind: vip' }
          : undefined;
    if (lbKey) {
      out.push({
        path: ['node_proxy', key],
        atKey: false,
        message: `${port} is also ${lbKey.what}, on ${both.join(', ')}, which also get${both.length === 1 ? 's' : ''} the proxy: set node_proxy.${key} to a free port${lbKey.fix}`,
      });
    }
  }
}

/**
 * The proxy as a static pod (node_proxy.static_pod): an image kha can name
 * (nginx has no default: its stream module is in some images and not in
 * others), and a manifests directory that is the kubelet's alone. The kubelet
 * reads every file there but dotfiles as a Pod, so kha's own directories
 * would feed it haproxy.cfg and markers; and a master has one kubelet, with
 * one staticPodPath, which static_pods names too.
 */
function checkNodeProxyPod(f: HostsFile, out: Finding[]): void {
  const pod = f.node_proxy?.static_pod;
  if (pod === undefined) return;
  if (f.node_proxy!.software === 'nginx' && pod.image === undefined) {
    out.push({
      path: ['node_proxy', 'static_pod'],
      atKey: true,
      message:
        "software: nginx has no default image: name it in static_pod.image, tagged or by digest: one whose nginx has the stream module (built in, as in the official docker.io/library/nginx:<version>, or your distribution's nginx with its stream module package)",
    });
  }
  const dir = pod.manifests_dir.replace(/\/+$/, '') || '/';
  const own = new Map([
    [NODE_PROXY_DIR, "the proxy's own configuration"],
    [STATE_DIR, "kha's records of what each service loaded"],
  ]);
  const kubeletOwns = `the kubelet reads every file in its staticPodPath as a Pod, so it must be a directory of its own (kubeadm's is ${DEFAULT_MANIFESTS_DIR})`;
  const why = dir.split('/').some((part) => part === '.' || part === '..')
    ? "has . or .. in it, so kha cannot tell which directory it is: write the kubelet's staticPodPath as its configuration names it"
    : dir === '/'
      ? `is the root directory; ${kubeletOwns}`
      : own.has(dir)
        ? `is where kha keeps ${own.get(dir)}; ${kubeletOwns}`
        : undefined;
  if (why !== undefined) {
    out.push({ path: ['node_proxy', 'static_pod', 'manifests_dir'], atKey: false, message: `${pod.manifests_dir} ${why}` });
  } else if (f.static_pods !== undefined && f.node_proxy!.masters && f.static_pods.manifests_dir.replace(/\/+$/, '') !== dir) {
    out.push({
      path: ['node_proxy', 'static_pod', 'manifests_dir'],
      atKey: false,
      message: `${pod.manifests_dir} is not static_pods.manifests_dir (${f.static_pods.manifests_dir}), and node_proxy.masters puts this pod on the masters, whose kubelet has one staticPodPath: use the same directory in both`,
    });
  }
}

function checkEnvSecrets(f: HostsFile, env: NodeJS.ProcessEnv, out: Finding[]): void {
  const refs: { path: (string | number)[]; value: string | undefined }[] = [
    { path: ['keepalived', 'auth_pass'], value: f.keepalived.auth_pass },
    { path: ['ssh', 'sudo_password'], value: f.ssh.sudo_password },
    ...lbList(f).map((h, i) => ({ path: ['lb', i, 'ssh', 'sudo_password'], value: h.ssh?.sudo_password })),
    ...f.masters.map((h, i) => ({ path: ['masters', i, 'ssh', 'sudo_password'], value: h.ssh?.sudo_password })),
    ...(f.nodes ?? []).map((h, i) => ({ path: ['nodes', i, 'ssh', 'sudo_password'], value: h.ssh?.sudo_password })),
  ];
  for (const { path, value } of refs) {
    if (value === undefined || !value.startsWith('env:')) continue;
    const name = value.slice(4);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      // Not quoted back: a value that fails as a name may be a password written after env: by mistake.
      out.push({ path, atKey: false, message: "env: must be followed by an environment variable's name: letters, digits and '_', not starting with a digit" });
      continue;
    }
    const secret = envValue(env, name);
    const shown = showText(name);
    const message =
      secret === undefined || secret === ''
        ? `environment variable ${shown} is not set; export it before running kha (export ${shown}=...)`
        : envSecretComplaint(name, secret, path[1] === 'auth_pass');
    if (message) out.push({ path, atKey: false, message });
  }
}

/**
 * kubelet: kha sets it where it manages a kubelet: a master that is also a
 * load balancer (it reaches that host anyway), and a host with the local
 * proxy. Masters behind dedicated load balancers are not kha's to reach.
 */
function checkKubelet(f: HostsFile, out: Finding[]): void {
  if (f.kubelet === undefined) return;
  const onMasters = lbList(f).some((l) => f.masters.some((m) => m.name === l.name && m.address === l.address));
  const proxied = f.nodes !== undefined || f.node_proxy?.masters === true;
  if (onMasters || proxied) return;
  out.push({
    path: ['kubelet'],
    atKey: true,
    message:
      'has no kubelet to go to: kha sets it on the hosts it manages that run a kubelet, the masters listed under lb too and the hosts with the local proxy (nodes, node_proxy.masters), and this file has none. Remove kubelet, or list those hosts',
  });
}

export function semanticFindings(f: HostsFile, env: NodeJS.ProcessEnv): Finding[] {
  const out: Finding[] = [];
  checkIdentity(f, out);
  checkEndpoint(f, out);
  checkVip(f, out);
  checkPriorities(f, out);
  checkVrrp(f, out);
  checkHaproxy(f, out);
  checkColocated(f, out);
  checkStaticPods(f, out);
  checkNodeProxy(f, out);
  checkNodeProxyPod(f, out);
  checkKubelet(f, out);
  checkEnvSecrets(f, env, out);
  return out;
}
