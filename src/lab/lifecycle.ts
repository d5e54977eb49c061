// `kha lab up` and `kha lab down`: the order in which the lab's pieces are
// made and unmade. up records what it is about to make before making it, and
// down also searches by name prefix, so down works after a half-finished up.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile, chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HostError, InputError } from '../errors.js';
import { ensureAptRepo, PODMAN_PACKAGES } from './aptrepo.js';
import { ensureImages } from './images.js';
import { cgroupRoots, removeLabCgroups } from './cgroups.js';
import { raiseInotifyInstances } from './host-limits.js';
import { ensureHostTools, requireRoot } from './hosttools.js';
import { hostsYaml, ON_MASTERS_PORT } from './hostsfile.js';
import { installKubeletConf } from './kubelet-node.js';
import { alive, boot, installPodmanConfig, machineExec, nspawnPid, podmanBoot, poweroff, prepareMachine, strayNspawns, waitForSsh } from './machine.js';
import { mountsUnder, removeTree, unmountUnder } from './mounts.js';
import { createBridge, createMachineNet, deleteNamespace, labNamespaces } from './network.js';
import { ensureCa, ensureClientKey, knownHostsText, makeHostKey, makeServerCert, type HostKey } from './pki.js';
import { ensureRootfs } from './rootfs.js';
import { runInNetns, sleep } from './run.js';
import {
  CONTROLLER_NS,
  DEFAULT_VIP,
  labDirs,
  labFiles,
  LIMITS,
  machinePaths,
  PREFIX,
  planMachines,
  readState,
  runsPods,
  writeState,
  type LabDirs,
  type LabSize,
  type LabState,
  type MachineSpec,
  type StaticPodsLab,
} from './state.js';

export interface UpReport {
  hostsYaml: string;
  rootfs: { dir: string; built: boolean; seconds: number };
  aptRepo: { dir: string; built: boolean; packages: number; seconds: number };
  /** `--static-pods` only: the images the masters run, from the host's store. */
  images?: { store: string; keepalived: string; haproxy: string; built: boolean; seconds: number };
  machines: Array<MachineSpec & { bootToSshSeconds: number; podmanSeconds?: number }>;
  seconds: number;
}

export function checkSize(size: LabSize, endpointOnMasters = false): void {
  const bad: string[] = [];
  if (endpointOnMasters && size.lbs > 0) bad.push('--on-masters puts keepalived and haproxy on the masters: drop --lbs');
  if (endpointOnMasters && size.masters < 2) bad.push('--on-masters needs at least 2 masters: with one there is nothing to fail over to');
  if (!Number.isInteger(size.lbs) || size.lbs < 0 || size.lbs > LIMITS.lbs) bad.push(`--lbs must be 0..${LIMITS.lbs}`);
  if (!Number.isInteger(size.masters) || size.masters < 0 || size.masters > LIMITS.masters) bad.push(`--masters must be 0..${LIMITS.masters}`);
  if (!Number.isInteger(size.workers) || size.workers < 0 || size.workers > LIMITS.workers) bad.push(`--workers must be 0..${LIMITS.workers}`);
  if (size.lbs + size.masters + size.workers === 0) bad.push('the lab needs at least one machine');
  else if (!endpointOnMasters && size.lbs === 0 && size.workers === 0) {
    bad.push('--lbs 0 without --workers: no VIP and no host for the local proxy, so nothing for kha to build; add --workers N, or load balancers, or --on-masters');
  }
  if (bad.length > 0) throw new InputError(bad.join('; '));
}

async function waitForApiserver(caCert: string, m: MachineSpec, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const r = await runInNetns(
      CONTROLLER_NS,
      'curl',
      ['-sS', '--fail', '--max-time', '3', '--cacert', caCert, `https://${m.address}:6443/readyz`],
      { allowFail: true, timeoutMs: 10_000 },
    ).catch(() => ({ code: 1, stdout: '', stderr: '' }));
    if (r.code === 0 && r.stdout.trim() === 'ok') return;
    await sleep(200);
  }
  throw new HostError(m.name, 'apiserver', `the apiserver stand-in on ${m.name} did not answer /readyz within ${timeoutMs / 1000} s`);
}

export interface UpOptions {
  /** Masters without an apiserver or its certificate, as before kubeadm init (see kubeadm.ts). */
  beforeKubeadm?: boolean;
  /** No load balancers: hosts.yaml lists the masters under lb, and the VIP's port is not the apiservers' (source 004). */
  endpointOnMasters?: boolean;
  /**
   * keepalived and haproxy as static pods (source 002); implies endpointOnMasters. The masters
   * boot with what podman needs inside nspawn, install podman, and get the kubelet stand-in.
   */
  staticPods?: boolean;
  /**
   * The workers run static pods (node_proxy.static_pod): they boot and install podman as the
   * static-pods masters do, their kubelet stand-in plays manifests too, and hosts.yaml names the
   * lab's haproxy image for the proxy. Without beforeKubeadm they are as after kubeadm join.
   */
  proxyPods?: boolean;
}

/**
 * podman, runc and catatonit from the offline repository, without Recommends
 * (as the repository downloaded them), then podman's configuration. The
 * kubelet stand-in's unit is already in place (prepareMachine).
 */
async function installPodman(dirs: LabDirs, name: string): Promise<void> {
  await machineExec(dirs, name, ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-q', '--no-install-recommends', ...PODMAN_PACKAGES]);
  await installPodmanConfig(dirs, name);
  await machineExec(dirs, name, ['systemctl', 'daemon-reload']);
}

export async function labUp(size: LabSize, env: NodeJS.ProcessEnv, say: (line: string) => void, options: UpOptions = {}): Promise<UpReport> {
  try {
    return await bringUp(size, env, say, options);
  } catch (e) {
    // A failed up leaves what it made so it can be looked at; say how to clear it.
    if (e instanceof HostError && (await readState(labDirs(env)))) {
      throw new HostError(e.host, e.step, `${e.message}\nthe lab is half made: kha lab down removes it`);
    }
    throw e;
  }
}

async function bringUp(size: LabSize, env: NodeJS.ProcessEnv, say: (line: string) => void, options: UpOptions): Promise<UpReport> {
  if (options.staticPods) options = { ...options, endpointOnMasters: true };
  checkSize(size, options.endpointOnMasters);
  const started = Date.now();
  await ensureHostTools(env, say, { staticPods: Boolean(options.staticPods || options.proxyPods) });
  const dirs = labDirs(env);
  const files = labFiles(dirs);
  if ((await readState(dirs)) || (await labNamespaces()).length > 0 || (await strayNspawns()).length > 0) {
    throw new InputError(`a lab is already up (or half made) under ${dirs.lab}: run kha lab down first`);
  }
  const rootfs = await ensureRootfs(dirs.cache, env, say);
  const aptStarted = Date.now();
  const apt = await ensureAptRepo(dirs.cache, rootfs.dir, env, say);
  const aptSeconds = (Date.now() - aptStarted) / 1000;
  const images = options.staticPods || options.proxyPods ? await ensureImages(dirs.cache, apt.dir, env, say) : undefined;
  const labImages: StaticPodsLab | undefined = images && { store: images.store, keepalivedImage: images.keepalived, haproxyImage: images.haproxy };
  const staticPods = options.staticPods ? labImages : undefined;
  const proxyPods = options.proxyPods ? labImages : undefined;

  await mkdir(dirs.lab, { recursive: true, mode: 0o700 });
  await chmod(dirs.lab, 0o700);
  const machines = planMachines(size);
  const state: LabState = {
    version: 1,
    createdAt: new Date().toISOString(),
    rootfs: rootfs.dir,
    aptRepo: apt.dir,
    vip: DEFAULT_VIP,
    machines,
    endpointOnMasters: Boolean(options.endpointOnMasters),
    ...(staticPods ? { staticPods } : {}),
    ...(proxyPods ? { proxyPods } : {}),
  };
  await writeState(dirs, state);
  await ensureClientKey(files);
  await ensureCa(files);
  const authorizedKey = await readFile(`${files.key}.pub`, 'utf8');
  const caCert = await readFile(files.caCert, 'utf8');

  const raised = await raiseInotifyInstances(machines.length);
  if (raised !== undefined) say(`fs.inotify.max_user_instances raised to ${raised}: every machine's systemd shares root's budget`);
  await createBridge();
  const keys: Array<{ machine: MachineSpec; key: HostKey }> = [];
  for (const m of machines) {
    const key = await makeHostKey(join(dirs.lab, 'hostkeys'), m.name);
    keys.push({ machine: m, key });
    const cert = m.role === 'master' && !options.beforeKubeadm ? await makeServerCert(files, m) : undefined;
    await createMachineNet(m);
    await prepareMachine(dirs, rootfs.dir, { machine: m, all: machines, hostKey: key, authorizedKey, cert, caCert, kubeletStandIn: runsPods(state, m) });
  }
  await writeFile(files.knownHosts, knownHostsText(keys));

  say(`booting ${machines.length} machines: ${machines.map((m) => m.name).join(' ')}`);
  const booted = await Promise.all(
    machines.map(async (m) => {
      const t0 = Date.now();
      await boot(dirs, m, apt.dir, podmanBoot(state, m));
      await waitForSsh(dirs, m, 120_000);
      const bootToSshSeconds = (Date.now() - t0) / 1000;
      // Package lists ready, as on any provisioned host: `apt-get install` works without an update first.
      await machineExec(dirs, m.name, ['apt-get', 'update', '-q']);
      // As on a kubeadm host, where kube-proxy needs it: the drills refuse a master's apiserver port with it,
      // and silence a master for a node (node-apiserver-stop, node-master-crash, backend-down on the masters).
      if (m.role === 'master' || m.role === 'worker') {
        await machineExec(dirs, m.name, ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-q', 'iptables']);
      }
      let podmanSeconds: number | undefined;
      if (runsPods(state, m)) {
        const t1 = Date.now();
        await installPodman(dirs, m.name);
        podmanSeconds = (Date.now() - t1) / 1000;
        // Without --before-kubeadm the cluster is as after kubeadm: the kubelet runs, from boot on;
        // a worker's as after kubeadm join, its kubeconfig naming the endpoint (lab kubeadm join writes the same).
        if (!options.beforeKubeadm && m.role === 'worker') {
          const port = options.endpointOnMasters ? ON_MASTERS_PORT : 6443;
          await installKubeletConf(machinePaths(dirs, m.name).merged, `https://${DEFAULT_VIP}:${port}`, caCert);
        }
        if (!options.beforeKubeadm) await machineExec(dirs, m.name, ['systemctl', 'enable', '--now', '--quiet', 'kubelet.service']);
      }
      if (m.role === 'master' && !options.beforeKubeadm) await waitForApiserver(files.caCert, m, 60_000);
      say(`${m.name} ${m.address}: ssh up after ${bootToSshSeconds.toFixed(1)} s${podmanSeconds === undefined ? '' : `; podman installed in ${podmanSeconds.toFixed(1)} s`}`);
      return { ...m, bootToSshSeconds, ...(podmanSeconds === undefined ? {} : { podmanSeconds }) };
    }),
  );
  await writeFile(files.hostsYaml, hostsYaml(files, machines, DEFAULT_VIP, options.endpointOnMasters, staticPods, proxyPods));
  return {
    hostsYaml: files.hostsYaml,
    rootfs,
    aptRepo: { ...apt, seconds: aptSeconds },
    ...(images ? { images } : {}),
    machines: booted,
    seconds: (Date.now() - started) / 1000,
  };
}

export interface DownReport {
  machines: string[];
  namespaces: string[];
  mounts: number;
  seconds: number;
}

/** Every piece of a lab that still exists, by name prefix and under the lab dir. */
export async function leftovers(env: NodeJS.ProcessEnv): Promise<string[]> {
  const dirs = labDirs(env);
  const left: string[] = [];
  for (const ns of await labNamespaces()) left.push(`network namespace ${ns}`);
  for (const m of await mountsUnder(dirs.lab)) left.push(`mount ${m}`);
  for (const p of await strayNspawns()) left.push(`systemd-nspawn pid ${p.pid} (${p.machine})`);
  if (existsSync(dirs.lab)) left.push(`directory ${dirs.lab}`);
  for (const r of cgroupRoots()) if (existsSync(join(r, PREFIX))) left.push(`cgroup ${join(r, PREFIX)}`);
  return left;
}

export async function labDown(env: NodeJS.ProcessEnv, say: (line: string) => void): Promise<DownReport> {
  requireRoot();
  const started = Date.now();
  const dirs = labDirs(env);
  const state = await readState(dirs);
  const names = new Set<string>(state?.machines.map((m) => m.name) ?? []);
  try {
    for (const d of await readdir(join(dirs.lab, 'machines'))) names.add(d);
  } catch {
    // no machines dir: nothing was prepared
  }
  const stopped: string[] = [];
  await Promise.all(
    [...names].map(async (name) => {
      if (await nspawnPid(dirs, name)) {
        await poweroff(dirs, name, 20_000);
        stopped.push(name);
      }
    }),
  );
  // nspawns whose pid file never got written (an up interrupted right at boot).
  for (const p of await strayNspawns()) {
    process.kill(p.pid, 'SIGTERM');
    for (let i = 0; i < 100 && alive(p.pid); i++) await sleep(100);
    if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
    stopped.push(p.machine);
  }
  const mounts = (await mountsUnder(dirs.lab)).length;
  await unmountUnder(dirs.lab);
  for (const entry of existsSync(dirs.cache) ? await readdir(dirs.cache) : []) {
    if (entry.endsWith('.partial')) await removeTree(join(dirs.cache, entry));
  }
  await removeLabCgroups();
  const namespaces = await labNamespaces();
  for (const ns of namespaces) await deleteNamespace(ns);
  await removeTree(dirs.lab);
  await rm(dirs.lab, { recursive: true, force: true });
  const left = await leftovers(env);
  if (left.length > 0) throw new HostError('localhost', 'lab down', `left behind: ${left.join('; ')}`);
  say(`lab down: ${stopped.length} machines stopped, ${namespaces.length} namespaces and ${mounts} mounts removed; nothing left`);
  return { machines: stopped, namespaces, mounts, seconds: (Date.now() - started) / 1000 };
}
