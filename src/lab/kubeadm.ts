// The lab's stand-in for `kubeadm init` and `kubeadm join --control-plane`
// on a master: it reads a kubeadm configuration file, issues the apiserver
// certificate with the SANs kubeadm would give it (its own defaults, the
// controlPlaneEndpoint's host and apiServer.certSANs, nothing else), and
// starts the apiserver stand-in. A join, like kubeadm's, takes the
// configuration from the cluster (what init recorded) and first reaches the
// cluster through controlPlaneEndpoint, verifying the certificate it gets
// there: a certificate without the endpoint's name fails the join with an
// x509 error, as kubeadm's would.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { HostError, InputError } from '../errors.js';
import { requireLab } from './faults.js';
import { installServerCert, machineExec } from './machine.js';
import { makeServerCert, type Sans } from './pki.js';
import { runInNetns, sleep } from './run.js';
import { installKubeletConf } from './kubelet-node.js';
import { CONTROLLER_NS, labDirs, labFiles, machinePaths, runsPods, type MachineSpec } from './state.js';
import { tokenKubeconfig } from '../kubeconfig.js';

const KUBEADM_APIS = ['kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta4'];
const STAND_IN_PORT = 6443;
const JOIN_DISCOVERY_MS = 60_000;
/** curl's exit codes for a server certificate it does not accept (51: older curl, 60: name or chain). */
const CERTIFICATE_REFUSED = [51, 60];

export interface KubeadmConfig {
  controlPlaneEndpoint?: string;
  certSANs: string[];
  serviceSubnet: string;
  dnsDomain: string;
  /** InitConfiguration's localAPIEndpoint, when the file has one. */
  advertiseAddress?: string;
  bindPort: number;
  /** The file as given, recorded for joins. */
  text: string;
}

type Doc = Record<string, unknown>;

function section(doc: Doc, key: string): Doc {
  const v = doc[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : {};
}

function stringOr(v: unknown, fallback: string): string {
  return typeof v === 'string' && v !== '' ? v : fallback;
}

/** The parts of a kubeadm configuration file the certificate and the apiserver depend on, with kubeadm's defaults. */
export function parseKubeadmConfig(text: string, file: string): KubeadmConfig {
  const docs = parseAllDocuments(text);
  const bad = docs.flatMap((d) => d.errors);
  if (bad.length > 0) throw new InputError(`${file}: not YAML: ${bad[0]!.message}`);
  const objects = docs.map((d) => d.toJS() as unknown).filter((o): o is Doc => o !== null && typeof o === 'object');
  const ofKind = (kind: string) => objects.find((o) => o.kind === kind);
  const cluster = ofKind('ClusterConfiguration');
  if (!cluster) throw new InputError(`${file}: no ClusterConfiguration (kind: ClusterConfiguration) in it`);
  for (const o of objects) {
    if (typeof o.apiVersion !== 'string' || !KUBEADM_APIS.includes(o.apiVersion)) {
      throw new InputError(`${file}: ${String(o.kind)} has apiVersion ${String(o.apiVersion)}; kubeadm reads ${KUBEADM_APIS.join(' or ')}`);
    }
  }
  const sans = section(cluster, 'apiServer').certSANs;
  if (sans !== undefined && !(Array.isArray(sans) && sans.every((s) => typeof s === 'string'))) {
    throw new InputError(`${file}: apiServer.certSANs must be a list of addresses and names`);
  }
  const networking = section(cluster, 'networking');
  const local = section(ofKind('InitConfiguration') ?? {}, 'localAPIEndpoint');
  const config: KubeadmConfig = {
    certSANs: (sans as string[] | undefined) ?? [],
    serviceSubnet: stringOr(networking.serviceSubnet, '10.96.0.0/12'),
    dnsDomain: stringOr(networking.dnsDomain, 'cluster.local'),
    bindPort: typeof local.bindPort === 'number' ? local.bindPort : 6443,
    text,
  };
  if (typeof cluster.controlPlaneEndpoint === 'string' && cluster.controlPlaneEndpoint !== '') config.controlPlaneEndpoint = cluster.controlPlaneEndpoint;
  if (typeof local.advertiseAddress === 'string') config.advertiseAddress = local.advertiseAddress;
  return config;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The first address of the service subnet: the in-cluster `kubernetes` Service, which kubeadm names in the certificate. */
export function firstServiceIp(cidr: string): string {
  const [address, prefix] = cidr.split(',')[0]!.trim().split('/');
  const m = IPV4.exec(address ?? '');
  const bits = Number(prefix);
  if (!m || !Number.isInteger(bits) || bits < 1 || bits > 30) throw new InputError(`networking.serviceSubnet ${cidr}: the lab reads an IPv4 CIDR`);
  const n = m.slice(1).reduce((acc, o) => acc * 256 + Number(o), 0);
  const network = bits === 32 ? n : n - (n % 2 ** (32 - bits));
  const first = network + 1;
  return [24, 16, 8, 0].map((s) => Math.floor(first / 2 ** s) % 256).join('.');
}

/** The endpoint's host: `host:port`, `[v6]:port` or a bare host. */
export function endpointHost(endpoint: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(endpoint);
  if (v6) return v6[1]!;
  const colon = endpoint.lastIndexOf(':');
  return colon === -1 ? endpoint : endpoint.slice(0, colon);
}

/** What kubeadm puts in a master's apiserver certificate (GetAPIServerAltNames): its defaults, the endpoint's host, certSANs. */
export function apiserverSans(cfg: KubeadmConfig, node: { name: string; address: string }): Sans {
  const sans: Sans = {
    dns: [node.name, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${cfg.dnsDomain}`],
    ip: [firstServiceIp(cfg.serviceSubnet), cfg.advertiseAddress ?? node.address],
  };
  const extra = [...(cfg.controlPlaneEndpoint ? [endpointHost(cfg.controlPlaneEndpoint)] : []), ...cfg.certSANs];
  for (const x of extra) {
    const list = IPV4.test(x) ? sans.ip : sans.dns;
    if (!list.includes(x)) list.push(x);
  }
  return sans;
}

function clusterRecord(env: NodeJS.ProcessEnv): string {
  return join(labDirs(env).lab, 'kubeadm', 'cluster.yaml');
}

async function findMaster(env: NodeJS.ProcessEnv, host: string): Promise<MachineSpec> {
  const state = await requireLab(env);
  const m = state.machines.find((x) => x.name === host || x.address === host);
  if (!m || m.role !== 'master') {
    throw new InputError(`no lab master '${host}'; the lab's masters are ${state.machines.filter((x) => x.role === 'master').map((x) => x.name).join(', ') || 'none'}`);
  }
  return m;
}

async function startApiserver(env: NodeJS.ProcessEnv, m: MachineSpec, cfg: KubeadmConfig, node: { name: string; address: string }): Promise<Sans> {
  if (cfg.bindPort !== STAND_IN_PORT) throw new InputError(`localAPIEndpoint.bindPort ${cfg.bindPort}: the lab's apiserver stand-in binds ${STAND_IN_PORT} only`);
  const dirs = labDirs(env);
  const files = labFiles(dirs);
  const sans = apiserverSans(cfg, node);
  await installServerCert(machinePaths(dirs, m.name).merged, await makeServerCert(files, m, sans));
  await machineExec(dirs, m.name, ['systemctl', 'enable', '--quiet', 'kha-apiserver.service']);
  await machineExec(dirs, m.name, ['systemctl', 'restart', 'kha-apiserver.service']);
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const r = await runInNetns(CONTROLLER_NS, 'curl', ['-sS', '--fail', '--max-time', '3', '--cacert', files.caCert, `https://${m.address}:${STAND_IN_PORT}/readyz`], {
      allowFail: true,
      timeoutMs: 10_000,
    });
    if (r.code === 0) return sans;
    await sleep(200);
  }
  throw new HostError(m.name, 'kubeadm', `the apiserver stand-in did not answer /readyz within 30 s`);
}

/**
 * On a static-pods master, kubeadm starts the kubelet, which starts the
 * static pods whose manifests kha wrote: the lab's stand-in does the same
 * (enabled, so it also runs after a reboot, as a kubeadm-installed kubelet).
 */
async function startKubelet(env: NodeJS.ProcessEnv, m: MachineSpec): Promise<boolean> {
  const state = await requireLab(env);
  if (!runsPods(state, m)) return false;
  await machineExec(labDirs(env), m.name, ['systemctl', 'enable', '--now', '--quiet', 'kubelet.service']);
  return true;
}

export interface KubeadmReport {
  master: string;
  sans: Sans;
  /** The kubelet (the lab's stand-in) was started: a static-pods lab. */
  kubelet: boolean;
  /** Elsewhere, the server the master's own kubelet.conf names, as kubeadm writes it: https://<controlPlaneEndpoint>. */
  kubeletServer?: string;
  /** kubeadm init only: the cluster's admin kubeconfig, on the operator's machine. */
  adminConf?: string;
}

/**
 * What kubeadm init writes to /etc/kubernetes/admin.conf: the endpoint and
 * the cluster's CA, so a client checks the apiservers' certificates (the
 * VIP and each master are in them). The stand-in checks no credentials; a
 * token stands where kubeadm puts a client certificate.
 */
export function adminConf(server: string, caPem: string): string {
  return tokenKubeconfig({ cluster: 'kubernetes', user: 'kubernetes-admin', server, token: 'kha-lab-admin', caPem });
}

/**
 * kubeadm init and join write the master's kubelet.conf too, naming
 * controlPlaneEndpoint (or, without one, the master's own apiserver), and
 * start its kubelet: the connection stand-in (kubelet-node.ts) on a master
 * that plays no static pods, so that node_proxy.masters and .kubelet point
 * the masters' kubelets as they do the workers'.
 */
async function startMasterKubelet(env: NodeJS.ProcessEnv, m: MachineSpec, endpoint: string): Promise<string> {
  const dirs = labDirs(env);
  const server = `https://${endpoint}`;
  await installKubeletConf(machinePaths(dirs, m.name).merged, server, await readFile(labFiles(dirs).caCert, 'utf8'));
  await machineExec(dirs, m.name, ['systemctl', 'enable', '--quiet', 'kubelet.service']);
  await machineExec(dirs, m.name, ['systemctl', 'restart', 'kubelet.service']);
  return server;
}

/** `kubeadm init --config FILE` on a master of the lab. */
export async function kubeadmInit(env: NodeJS.ProcessEnv, host: string, configFile: string): Promise<KubeadmReport> {
  const m = await findMaster(env, host);
  const text = await readFile(configFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`${configFile}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  const cfg = parseKubeadmConfig(text, configFile);
  const record = clusterRecord(env);
  if (existsSync(record)) throw new InputError('this lab cluster is initialised already: join the other masters (kha lab kubeadm join MASTER)');
  // kubeadm init starts the kubelet, which starts the static pods, the apiserver among them.
  const kubelet = await startKubelet(env, m);
  const sans = await startApiserver(env, m, cfg, { name: m.name, address: m.address });
  await mkdir(join(labDirs(env).lab, 'kubeadm'), { recursive: true });
  await writeFile(record, text);
  const endpoint = cfg.controlPlaneEndpoint ?? `${cfg.advertiseAddress ?? m.address}:${cfg.bindPort}`;
  const files = labFiles(labDirs(env));
  await writeFile(files.adminConf, adminConf(`https://${endpoint}`, await readFile(files.caCert, 'utf8')), { mode: 0o600 });
  if (kubelet) return { master: m.name, sans, kubelet, adminConf: files.adminConf };
  const kubeletServer = await startMasterKubelet(env, m, endpoint);
  return { master: m.name, sans, kubelet, kubeletServer, adminConf: files.adminConf };
}

/** The configuration `kubeadm init` recorded, for a join: it must name the endpoint every node joins through. */
async function joinedCluster(env: NodeJS.ProcessEnv): Promise<KubeadmConfig & { controlPlaneEndpoint: string }> {
  const record = clusterRecord(env);
  if (!existsSync(record)) throw new InputError('no cluster to join: run kha lab kubeadm init MASTER --config FILE first');
  const cfg = parseKubeadmConfig(await readFile(record, 'utf8'), record);
  if (!cfg.controlPlaneEndpoint) {
    throw new InputError('the cluster was initialised without controlPlaneEndpoint: kubeadm cannot join another node to it');
  }
  return { ...cfg, controlPlaneEndpoint: cfg.controlPlaneEndpoint };
}

/** kubeadm join's discovery: the cluster answers /readyz through controlPlaneEndpoint, with a certificate that names it. */
async function discover(env: NodeJS.ProcessEnv, m: MachineSpec, endpoint: string): Promise<void> {
  const files = labFiles(labDirs(env));
  const hostPart = endpointHost(endpoint);
  const port = endpoint.slice(endpoint.lastIndexOf(':') + 1);
  // A name resolves as the operator's DNS would: to the lab's VIP.
  const state = await requireLab(env);
  const resolve = IPV4.test(hostPart) ? [] : ['--resolve', `${hostPart}:${port}:${state.vip}`];
  // kubeadm's discovery retries until its timeout: haproxy may not count the first master UP yet.
  const until = Date.now() + JOIN_DISCOVERY_MS;
  for (;;) {
    const r = await runInNetns(CONTROLLER_NS, 'curl', ['-sS', '--fail', '--max-time', '5', '--cacert', files.caCert, ...resolve, `https://${endpoint}/readyz`], {
      allowFail: true,
      timeoutMs: 15_000,
    });
    if (r.code === 0) break;
    // A certificate that does not name the endpoint will not change by waiting: kubeadm's x509 error.
    if (Date.now() > until || CERTIFICATE_REFUSED.includes(r.code)) {
      throw new HostError(m.name, 'kubeadm join', `cannot reach the cluster at https://${endpoint} within ${JOIN_DISCOVERY_MS / 1000} s: ${r.stderr.trim() || `curl exit ${r.code}`}`);
    }
    await sleep(1000);
  }
}

/** `kubeadm join ENDPOINT --control-plane` on a master of the lab: through the endpoint, with the cluster's configuration. */
export async function kubeadmJoin(env: NodeJS.ProcessEnv, host: string): Promise<KubeadmReport> {
  const m = await findMaster(env, host);
  const cfg = await joinedCluster(env);
  await discover(env, m, cfg.controlPlaneEndpoint);
  // The joining master advertises its own address (kubeadm join's --apiserver-advertise-address), not init's.
  const { advertiseAddress: _init, ...joining } = cfg;
  // After discovery through the endpoint, kubeadm join starts the kubelet (and with it this master's static pods).
  const kubelet = await startKubelet(env, m);
  const sans = await startApiserver(env, m, { ...joining, bindPort: STAND_IN_PORT }, { name: m.name, address: m.address });
  if (kubelet) return { master: m.name, sans, kubelet };
  return { master: m.name, sans, kubelet, kubeletServer: await startMasterKubelet(env, m, cfg.controlPlaneEndpoint) };
}

/** The host names a worker of the lab (by name or address). */
export async function isWorker(env: NodeJS.ProcessEnv, host: string): Promise<boolean> {
  const state = await requireLab(env);
  return state.machines.some((x) => (x.name === host || x.address === host) && x.role === 'worker');
}

export interface WorkerJoinReport {
  worker: string;
  /** The server its kubelet.conf names: https://<controlPlaneEndpoint>, as kubeadm writes it. */
  server: string;
}

/**
 * `kubeadm join ENDPOINT` on a worker: discovery through the endpoint, then
 * what the kubelet's TLS bootstrap leaves, /etc/kubernetes/kubelet.conf
 * naming https://<controlPlaneEndpoint> and the cluster's CA, and the
 * kubelet (the lab's stand-in, kubelet-node.ts) enabled and started.
 */
export async function kubeadmJoinWorker(env: NodeJS.ProcessEnv, host: string): Promise<WorkerJoinReport> {
  const state = await requireLab(env);
  const w = state.machines.find((x) => (x.name === host || x.address === host) && x.role === 'worker');
  if (!w) throw new InputError(`no lab worker '${host}'; the lab's workers are ${state.machines.filter((x) => x.role === 'worker').map((x) => x.name).join(', ') || 'none'}`);
  const cfg = await joinedCluster(env);
  await discover(env, w, cfg.controlPlaneEndpoint);
  const dirs = labDirs(env);
  const server = `https://${cfg.controlPlaneEndpoint}`;
  await installKubeletConf(machinePaths(dirs, w.name).merged, server, await readFile(labFiles(dirs).caCert, 'utf8'));
  await machineExec(dirs, w.name, ['systemctl', 'enable', '--quiet', 'kubelet.service']);
  await machineExec(dirs, w.name, ['systemctl', 'restart', 'kubelet.service']);
  return { worker: w.name, server };
}
