// Where the lab keeps its files and what it remembers between commands.
// Everything the lab creates is named from here, with one prefix, so `down`
// can find leftovers of a lab whose state file never got written.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PREFIX = 'kha-lab';
export const BRIDGE_NS = `${PREFIX}-br`;
export const BRIDGE = `${PREFIX}-br0`;
export const CONTROLLER_NS = `${PREFIX}-ctl`;
/** The controller's bridge port; a machine can never be called `ctl`. */
export const CONTROLLER_PORT = `${PREFIX}-ctl`;
export const SUBNET_PREFIX = '10.77.0';
export const PREFIX_LEN = 24;
export const CONTROLLER_ADDRESS = `${SUBNET_PREFIX}.2`;
export const DEFAULT_VIP = `${SUBNET_PREFIX}.10`;
/** Where the offline apt repository appears inside every machine. */
export const APT_MOUNT = '/srv/kha-lab-apt';
/** Where a static-pods machine sees the lab's image store (podman's additionalimagestores; images.ts). */
export const IMAGES_MOUNT = '/srv/kha-lab-images';

export interface LabDirs {
  /** Runtime state: hosts.yaml, keys, CA, overlays, pids. */
  lab: string;
  /** Survives `down`: the root fs and the apt repository. */
  cache: string;
}

export function labDirs(env: NodeJS.ProcessEnv): LabDirs {
  return {
    lab: env.KHA_LAB_DIR ?? '/var/lib/kha/lab',
    cache: env.KHA_LAB_CACHE ?? '/var/lib/kha/lab-cache',
  };
}

export type Role = 'lb' | 'master' | 'worker';

export interface MachineSpec {
  name: string;
  role: Role;
  address: string;
}

export interface LabSize {
  lbs: number;
  masters: number;
  workers: number;
}

/**
 * Workers: this machine (2 cores, 24 GiB) boots fifty beside the load
 * balancers and masters in about 25 s, each worker about 10 MiB idle and 20
 * with its proxy (docs/node-proxy.md). Memory and the addresses (up to .253,
 * LAST_HOST) would allow more; two cores converging them would not: a cold
 * apply of fifty already waits on their CPU.
 */
export const LIMITS: LabSize = { lbs: 5, masters: 7, workers: 50 };
/**
 * The highest address a machine may take: .254 stays free, as the address
 * `kha setup` proposes first for a VIP (the lab's setup test takes it).
 */
export const LAST_HOST = 253;

/** lbs at .11.., masters at .21.., workers at .31..: the layout, readable at a glance. */
export function planMachines(size: LabSize): MachineSpec[] {
  const out: MachineSpec[] = [];
  for (let i = 1; i <= size.lbs; i++) out.push({ name: `lb${i}`, role: 'lb', address: `${SUBNET_PREFIX}.${10 + i}` });
  for (let i = 1; i <= size.masters; i++) out.push({ name: `m${i}`, role: 'master', address: `${SUBNET_PREFIX}.${20 + i}` });
  for (let i = 1; i <= size.workers; i++) out.push({ name: `w${i}`, role: 'worker', address: `${SUBNET_PREFIX}.${30 + i}` });
  return out;
}

export function machineNetns(name: string): string {
  return `${PREFIX}-${name}`;
}
/** The machine's veth peer, a port of the bridge (≤ 15 chars: names are ≤ 7). */
export function bridgePort(name: string): string {
  return `${PREFIX}-${name}`;
}
export function machineName(name: string): string {
  return `${PREFIX}-${name}`;
}

export interface MachinePaths {
  dir: string;
  upper: string;
  work: string;
  merged: string;
  pidFile: string;
  log: string;
  /** A static-pods machine's /var/lib/containers (podman's overlay storage cannot sit on the overlay root). */
  containers: string;
}

export function machinePaths(dirs: LabDirs, name: string): MachinePaths {
  const dir = join(dirs.lab, 'machines', name);
  return {
    dir,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    merged: join(dir, 'root'),
    pidFile: join(dir, 'nspawn.pid'),
    log: join(dir, 'console.log'),
    containers: join(dir, 'containers'),
  };
}

export interface LabFiles {
  hostsYaml: string;
  key: string;
  knownHosts: string;
  caCert: string;
  caKey: string;
  stateFile: string;
  certs: string;
  /** What kubeadm init leaves in /etc/kubernetes/admin.conf, here on the operator's machine (lab/kubeadm.ts). */
  adminConf: string;
}

export function labFiles(dirs: LabDirs): LabFiles {
  return {
    hostsYaml: join(dirs.lab, 'hosts.yaml'),
    key: join(dirs.lab, 'id_ed25519'),
    knownHosts: join(dirs.lab, 'known_hosts'),
    caCert: join(dirs.lab, 'ca.crt'),
    caKey: join(dirs.lab, 'ca.key'),
    stateFile: join(dirs.lab, 'lab.json'),
    certs: join(dirs.lab, 'pki'),
    adminConf: join(dirs.lab, 'admin.conf'),
  };
}

/** What `up` recorded; written before each machine is made so `down` knows it even after a crash. */
export interface LabState {
  version: 1;
  createdAt: string;
  rootfs: string;
  aptRepo: string;
  vip: string;
  machines: MachineSpec[];
  /** The masters also run keepalived and haproxy (source 004): no load balancers of their own. */
  endpointOnMasters?: boolean;
  /** `up --static-pods`: the masters run podman and a kubelet stand-in, with the lab's images (images.ts). */
  staticPods?: StaticPodsLab;
  /** `up --proxy-pods`: the workers run podman, and their kubelet stand-in runs static pods too (node_proxy.static_pod). */
  proxyPods?: StaticPodsLab;
}

export interface StaticPodsLab {
  /** The image store on the host, mounted read-only in the masters. */
  store: string;
  keepalivedImage: string;
  haproxyImage: string;
}

/** The lab's images where this machine runs static pods: the masters of a static-pods lab, the workers of a proxy-pods lab. */
export function podImages(state: Pick<LabState, 'staticPods' | 'proxyPods'>, m: MachineSpec): StaticPodsLab | undefined {
  return m.role === 'master' ? state.staticPods : m.role === 'worker' ? state.proxyPods : undefined;
}

/** Whether this machine runs podman and a kubelet stand-in that plays static pods. */
export function runsPods(state: Pick<LabState, 'staticPods' | 'proxyPods'>, m: MachineSpec): boolean {
  return podImages(state, m) !== undefined;
}

export async function readState(dirs: LabDirs): Promise<LabState | undefined> {
  try {
    const text = await readFile(labFiles(dirs).stateFile, 'utf8');
    const parsed = JSON.parse(text) as LabState;
    return parsed.version === 1 && Array.isArray(parsed.machines) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export async function writeState(dirs: LabDirs, state: LabState): Promise<void> {
  await mkdir(dirs.lab, { recursive: true });
  const file = labFiles(dirs).stateFile;
  await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}
