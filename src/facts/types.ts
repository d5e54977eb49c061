// What kha knows about a host before it plans anything. Gathered by one
// batched probe (probe.ts), parsed by pure functions (parse.ts), so planning
// can be tested on recorded facts of every distribution without a network.

export type OsFamily = 'debian' | 'rhel' | 'unknown';
export type PackageManager = 'apt' | 'dnf' | 'yum' | 'none';
export type SelinuxMode = 'enforcing' | 'permissive' | 'disabled' | 'absent';
export type FirewallBackend = 'firewalld' | 'ufw' | 'none';

export interface OsFacts {
  family: OsFamily;
  /** os-release ID: debian, ubuntu, rocky, rhel, centos, almalinux... */
  id: string;
  /** os-release VERSION_ID: "12", "22.04", "9.4", "7" */
  versionId: string;
  prettyName: string;
}

export interface InterfaceFacts {
  name: string;
  up: boolean;
  /** IPv4 addresses with prefix, e.g. "10.77.0.11/24". */
  addresses: string[];
}

export interface FileFacts {
  path: string;
  exists: boolean;
  /** Octal permission bits, e.g. 0o600; null when missing. */
  mode: number | null;
  owner: string | null;
  group: string | null;
  /** The whole content (kha's files are small); null when missing. */
  content: string | null;
}

export interface ServiceFacts {
  name: string;
  /** The unit file exists (the package is installed). */
  present: boolean;
  /** systemd ActiveState: active, inactive, failed, activating... */
  active: string;
  /** systemd UnitFileState: enabled, disabled, static, masked... */
  enabled: string;
  mainPid: number;
  /** ActiveEnterTimestampMonotonic in microseconds: proves a restart happened or not. */
  startedAtMonotonicUs: number;
}

export interface FirewallFacts {
  backend: FirewallBackend;
  /** The backend's daemon/rules are active (firewalld running, ufw enabled). */
  active: boolean;
  /** firewalld (when running): default zone and what is open in `zone` now (runtime). */
  firewalld?: {
    defaultZone: string;
    /**
     * The zone the lists describe: the zone of the interface that routes the
     * VIP, else the default zone. Rules belong here: a rule in the default
     * zone does nothing for an interface bound to another zone.
     * Absent (hand-made facts): the default zone.
     */
    zone?: string;
    ports: string[];
    richRules: string[];
    protocols: string[];
    /** The same lists in the permanent configuration: a runtime-only rule is gone after a reboot or reload. */
    permanent?: { ports: string[]; richRules: string[]; protocols: string[] };
  };
  /** ufw: rules as `ufw show added` lists them ("ufw allow 6443/tcp"). */
  ufw?: { rules: string[] };
}

export interface HostFacts {
  host: string;
  os: OsFacts;
  /** Effective uid of the probe (0 when root or through sudo). */
  uid: number;
  /** PID 1 is systemd. */
  systemd: boolean;
  packageManager: PackageManager;
  selinux: { mode: SelinuxMode; booleans: Record<string, boolean> };
  firewall: FirewallFacts;
  interfaces: InterfaceFacts[];
  /** Interface the kernel routes the VIP through (`ip route get VIP`). */
  routeToVip: string | null;
  /** Installed versions, null when not installed. */
  packages: { keepalived: string | null; haproxy: string | null };
  /** Installed versions of the request's other `packages` (the local proxy's), null when not installed; absent when it named none. */
  packageVersions?: Record<string, string | null>;
  /** Per requested port, what listens on it; null when the host cannot tell (no ss). Absent when the request named no port. */
  listeners?: Record<number, ListenerFacts[] | null>;
  files: FileFacts[];
  directories: { path: string; exists: boolean }[];
  services: ServiceFacts[];
  /** Current values of the sysctls kha manages. */
  sysctls: Record<string, string | null>;
  /** The masters whose apiserver port accepted a TCP connection from here; null when the host could not test. */
  apiserversReachable: string[] | null;
}

/** What the probe needs to know to ask the right questions. */
export interface ProbeRequest {
  /** The VIP whose route the probe reads (the interface keepalived binds); none on a host of no load balancer's. */
  vip?: string;
  files: string[];
  directories: string[];
  services: string[];
  sysctls: string[];
  selinuxBooleans: string[];
  apiservers: { name: string; address: string; port: number }[];
  /** Packages to report beside keepalived and haproxy (HostFacts.packageVersions). */
  packages?: string[];
  /** TCP ports whose listeners to report (HostFacts.listeners): the local proxy's. */
  ports?: number[];
  /** A path: a listener whose command line names it is the requester's own (ListenerFacts.own), as a static pod is known without a unit. */
  portsOwner?: string;
}

/** A socket listening on a port: its local address as ss prints it (127.0.0.1:6443, *:6443, [::]:6443), the systemd unit of its process when known, and whether it is the requester's own. */
export interface ListenerFacts {
  address: string;
  unit: string | null;
  /** Its command line names the request's portsOwner. */
  own: boolean;
}
