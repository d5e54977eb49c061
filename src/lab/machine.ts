// One lab machine: a copy-on-write overlay of the cached root fs with this
// machine's identity written into it, booted by systemd-nspawn (systemd as
// PID 1 inside) in the machine's own network namespace, as a detached child
// whose pid is recorded: this host has no systemd to keep it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, readlink, symlink, writeFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HostError } from '../errors.js';
import { templatesDir } from '../paths.js';
import { createMachineCgroups, machineCgroups } from './cgroups.js';
import { mountsUnder } from './mounts.js';
import { pidListensOn } from './proc-net.js';
import type { HostKey, ServerCert } from './pki.js';
import { run, runInNetns, sleep } from './run.js';
import {
  APT_MOUNT,
  CONTROLLER_NS,
  IMAGES_MOUNT,
  labFiles,
  machineName,
  machineNetns,
  machinePaths,
  PREFIX_LEN,
  podImages,
  type LabDirs,
  type LabFiles,
  type LabState,
  type MachineSpec,
} from './state.js';

const labTemplates = join(templatesDir, 'lab');
/** Where a proxy-pods worker gets the static-pods stand-in (templates/lab/kubelet), which its kubelet stand-in starts. */
const WORKER_PODS_STAND_IN = 'usr/local/lib/kha-lab/kubelet-pods';

async function put(root: string, path: string, body: string, mode = 0o644): Promise<void> {
  const file = join(root, path);
  await mkdir(dirname(file), { recursive: true });
  await rm(file, { force: true });
  await writeFile(file, body, { mode });
  await chmod(file, mode);
}

async function enable(root: string, unit: string, target = 'multi-user.target'): Promise<void> {
  const link = join(root, 'etc/systemd/system', `${target}.wants`, unit);
  await mkdir(dirname(link), { recursive: true });
  await rm(link, { force: true });
  await symlink(`/etc/systemd/system/${unit}`, link);
}

export async function isMounted(path: string): Promise<boolean> {
  return (await mountsUnder(path)).includes(path);
}

export interface MachineIdentity {
  machine: MachineSpec;
  all: readonly MachineSpec[];
  hostKey: HostKey;
  authorizedKey: string;
  cert?: ServerCert | undefined;
  caCert?: string | undefined;
  /** A machine that runs static pods (a static-pods master, a proxy-pods worker): the stand-in that plays them is installed (not enabled: kubeadm starts it, see kubeadm.ts). */
  kubeletStandIn?: boolean;
}

/** Mounts the overlay (once) and writes what makes this machine itself. */
export async function prepareMachine(dirs: LabDirs, rootfs: string, id: MachineIdentity): Promise<void> {
  const p = machinePaths(dirs, id.machine.name);
  for (const d of [p.upper, p.work, p.merged]) await mkdir(d, { recursive: true });
  if (!(await isMounted(p.merged))) {
    await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${rootfs},upperdir=${p.upper},workdir=${p.work}`, p.merged], {
      step: `${id.machine.name} overlay`,
    });
  }
  const root = p.merged;
  const m = id.machine;
  await put(root, 'etc/hostname', `${m.name}\n`);
  await put(root, 'etc/machine-id', `${randomBytes(16).toString('hex')}\n`, 0o444);
  await put(
    root,
    'etc/hosts',
    ['127.0.0.1 localhost', `127.0.1.1 ${m.name}`, ...id.all.map((o) => `${o.address} ${o.name}`), ''].join('\n'),
  );
  await put(root, 'etc/ssh/ssh_host_ed25519_key', id.hostKey.private, 0o600);
  await put(root, 'etc/ssh/ssh_host_ed25519_key.pub', id.hostKey.public);
  await mkdir(join(root, 'root/.ssh'), { recursive: true, mode: 0o700 });
  await chmod(join(root, 'root/.ssh'), 0o700);
  await put(root, 'root/.ssh/authorized_keys', id.authorizedKey, 0o600);
  const net = (await readFile(join(labTemplates, 'kha-lab-net.service'), 'utf8')).replaceAll('@CIDR@', `${m.address}/${PREFIX_LEN}`);
  await put(root, 'etc/systemd/system/kha-lab-net.service', net);
  await enable(root, 'kha-lab-net.service');
  if (m.role === 'master' && id.caCert) {
    await put(root, 'etc/kha-lab/ca.crt', id.caCert);
    await put(root, 'usr/local/lib/kha-lab/apiserver.py', await readFile(join(labTemplates, 'apiserver.py'), 'utf8'), 0o755);
    const unit = (await readFile(join(labTemplates, 'kha-apiserver.service'), 'utf8')).replaceAll('@NAME@', m.name);
    await put(root, 'etc/systemd/system/kha-apiserver.service', unit);
    // Without a certificate the master is as before kubeadm: no apiserver yet (see kubeadm.ts).
    if (id.cert) {
      await installServerCert(root, id.cert);
      await enable(root, 'kha-apiserver.service');
    }
  }
  if (m.role === 'worker' || (m.role === 'master' && !id.kubeletStandIn)) {
    // The kubelet stand-in of a worker, or of a master that plays no static pods: off until
    // `kha lab kubeadm init` or `join` writes its kubeconfig (kubeadm.ts).
    await put(root, 'usr/local/bin/kubelet', await readFile(join(labTemplates, 'kubelet-node'), 'utf8'), 0o755);
    await put(root, 'etc/systemd/system/kubelet.service', await readFile(join(labTemplates, 'kubelet-node.service'), 'utf8'));
  }
  if (id.kubeletStandIn && m.role === 'worker') {
    // The worker's stand-in (kubelet-node) starts this beside its connection when it is there: one kubelet, both jobs.
    await put(root, WORKER_PODS_STAND_IN, await readFile(join(labTemplates, 'kubelet'), 'utf8'), 0o755);
  } else if (id.kubeletStandIn) {
    // A script's process is named after its file: kha's pod check sees `kubelet` here, as on a real master.
    await put(root, 'usr/local/bin/kubelet', await readFile(join(labTemplates, 'kubelet'), 'utf8'), 0o755);
    await put(root, 'etc/systemd/system/kubelet.service', await readFile(join(labTemplates, 'kubelet.service'), 'utf8'));
  }
  if (id.kubeletStandIn) {
    await mkdir(join(root, 'etc/kubernetes/manifests'), { recursive: true });
    await mkdir(p.containers, { recursive: true });
  }
}

/**
 * podman's configuration in a static-pods master, written after podman is
 * installed (a package shipping one of these files would otherwise stop at
 * a conffile question).
 */
export async function installPodmanConfig(dirs: LabDirs, name: string): Promise<void> {
  const root = machinePaths(dirs, name).merged;
  await put(root, 'etc/containers/containers.conf', await readFile(join(labTemplates, 'containers.conf'), 'utf8'));
  await put(root, 'etc/containers/storage.conf', (await readFile(join(labTemplates, 'storage.conf'), 'utf8')).replaceAll('@IMAGES@', IMAGES_MOUNT));
}

/** The apiserver's certificate and key where the stand-in's unit reads them, under a machine's root. */
export async function installServerCert(root: string, cert: ServerCert): Promise<void> {
  await put(root, 'etc/kha-lab/apiserver.crt', cert.cert);
  await put(root, 'etc/kha-lab/apiserver.key', cert.key, 0o600);
}

async function cmdline(pid: number): Promise<string[]> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  } catch {
    return [];
  }
}

/** The recorded nspawn pid, if that process is still this machine's nspawn. */
export async function nspawnPid(dirs: LabDirs, name: string): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number.parseInt(await readFile(machinePaths(dirs, name).pidFile, 'utf8'), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  const args = await cmdline(pid);
  return args.includes(`--machine=${machineName(name)}`) ? pid : undefined;
}

/** Every nspawn of a lab machine, found by command line: for `down` after a lost state file. */
export async function strayNspawns(): Promise<Array<{ pid: number; machine: string }>> {
  const out: Array<{ pid: number; machine: string }> = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const args = await cmdline(Number(e));
    if (!(args[0] ?? '').endsWith('systemd-nspawn')) continue;
    const m = args.find((a) => a.startsWith(`--machine=${machineName('')}`));
    if (m) out.push({ pid: Number(e), machine: m.slice('--machine='.length) });
  }
  return out;
}

/** The machine's systemd (PID 1 in its pid namespace), a child of nspawn. */
export async function initPid(nspawn: number): Promise<number | undefined> {
  let children: string;
  try {
    children = await readFile(`/proc/${nspawn}/task/${nspawn}/children`, 'utf8');
  } catch {
    return undefined;
  }
  for (const c of children.trim().split(/\s+/).filter(Boolean)) {
    try {
      const status = await readFile(`/proc/${c}/status`, 'utf8');
      const nspid = /^NSpid:\s*(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/) ?? [];
      if (nspid.length > 1 && nspid[nspid.length - 1] === '1') return Number(c);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What a machine that runs pods (a static-pods master) needs from nspawn; absent for every other machine. */
export interface PodmanBoot {
  /** The lab's image store on the host (images.ts). */
  store: string;
}

export function podmanBoot(state: LabState, m: MachineSpec): PodmanBoot | undefined {
  const images = podImages(state, m);
  return images ? { store: images.store } : undefined;
}

export async function boot(dirs: LabDirs, m: MachineSpec, aptRepo: string, podman?: PodmanBoot): Promise<number> {
  const p = machinePaths(dirs, m.name);
  const running = await nspawnPid(dirs, m.name);
  if (running) return running;
  const cgroups = await createMachineCgroups(m.name);
  const log = openSync(p.log, 'a');
  // The shell moves itself into the machine's cgroups, then runs nspawn
  // (arguments travel as argv) and records its pid. nspawn exits with 133
  // when the machine reboots itself: the shell starts it again, as firmware
  // would, so `systemctl reboot` inside works as on a real host.
  const child = spawn(
    'sh',
    [
      '-c',
      'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 97; shift; done; shift; pidfile=$1; shift; ' +
        'while :; do "$@" & echo $! > "$pidfile"; wait $!; rc=$?; [ "$rc" = 133 ] || exit "$rc"; done',
      'kha-lab-boot',
      ...cgroups,
      '--',
      p.pidFile,
      'systemd-nspawn',
      '--boot',
      // This host's PID 1 is not systemd: nothing to register with, no scope to make.
      '--register=no',
      '--keep-unit',
      `--directory=${p.merged}`,
      `--machine=${machineName(m.name)}`,
      `--hostname=${m.name}`,
      `--network-namespace-path=/run/netns/${machineNetns(m.name)}`,
      // keepalived adds addresses and sends VRRP; ping needs raw sockets.
      '--capability=CAP_NET_ADMIN,CAP_NET_RAW',
      `--bind-ro=${aptRepo}:${APT_MOUNT}`,
      '--link-journal=no',
      '--resolv-conf=off',
      '--timezone=off',
      '--console=read-only',
      ...(podman
        ? [
            // runc loads an eBPF device filter for each container.
            '--system-call-filter=bpf',
            // podman's overlay storage cannot sit on the machine's overlay root.
            `--bind=${p.containers}:/var/lib/containers`,
            // The lab's images, built once on the host: an additional image store, read-only.
            `--bind-ro=${podman.store}:${IMAGES_MOUNT}`,
          ]
        : []),
    ],
    {
      detached: true,
      stdio: ['ignore', log, log],
      // /proc/sys/net writable inside (keepalived sets sysctls), the rest of /proc/sys read-only.
      // A machine that runs pods gets the unified cgroup hierarchy: on this host's hybrid one, runc
      // would try to make v1 controller directories (pids, ...) the machine cannot write.
      env: {
        ...process.env,
        SYSTEMD_NSPAWN_API_VFS_WRITABLE: 'network',
        ...(podman ? { SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' } : {}),
      },
    },
  );
  closeSync(log);
  if (child.pid === undefined) throw new HostError(m.name, 'boot', 'systemd-nspawn did not start');
  child.unref();
  // The shell writes nspawn's pid once it has started it.
  for (let i = 0; i < 100; i++) {
    const pid = await nspawnPid(dirs, m.name);
    if (pid) return pid;
    await sleep(20);
  }
  throw new HostError(m.name, 'boot', `systemd-nspawn did not start (see ${p.log})`);
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await sleep(50);
  }
  return !alive(pid);
}

/** A clean shutdown: nspawn turns SIGTERM into the container's poweroff. */
export async function poweroff(dirs: LabDirs, name: string, timeoutMs = 30_000): Promise<boolean> {
  const pid = await nspawnPid(dirs, name);
  if (!pid) return false;
  process.kill(pid, 'SIGTERM');
  if (await waitGone(pid, timeoutMs)) return true;
  await crash(dirs, name);
  return true;
}

/** SIGKILL of the machine's init: the kernel kills everything in its pid namespace at once. */
export async function crash(dirs: LabDirs, name: string): Promise<{ pid: number; at: string } | undefined> {
  const pid = await nspawnPid(dirs, name);
  if (!pid) return undefined;
  const init = await initPid(pid);
  const at = new Date().toISOString();
  process.kill(init ?? pid, 'SIGKILL');
  if (!(await waitGone(pid, 10_000))) process.kill(pid, 'SIGKILL');
  await waitGone(pid, 5_000);
  return { pid: init ?? pid, at };
}

/** Every pid in a cgroup and the cgroups below it. */
async function pidsUnder(dir: string, into: Set<number>): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    for (const l of (await readFile(join(dir, 'cgroup.procs'), 'utf8')).split('\n')) if (/^\d+$/.test(l)) into.add(Number(l));
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await pidsUnder(join(dir, e.name), into);
}

/**
 * Host pids of every process inside the machine: everything in its cgroups
 * (cgroups.ts) but the host-side boot shell and nspawn, so the containers of
 * a static-pods machine count too (they run in pid namespaces of their own,
 * below the machine's). Without those cgroups, the machine's pid namespace.
 */
export async function machineProcesses(name: string, init: number): Promise<Array<{ pid: number; comm: string }>> {
  let ns: string;
  let hostNs: string;
  try {
    ns = await readlink(`/proc/${init}/ns/pid`);
    hostNs = await readlink('/proc/self/ns/pid');
  } catch {
    return [];
  }
  const pids = new Set<number>();
  for (const dir of machineCgroups(name)) await pidsUnder(dir, pids);
  const inMachine = pids.size > 0 ? (pidNs: string) => pidNs !== hostNs : (pidNs: string) => pidNs === ns;
  const candidates = pids.size > 0 ? [...pids] : (await readdir('/proc')).filter((e) => /^\d+$/.test(e)).map(Number);
  const out: Array<{ pid: number; comm: string }> = [];
  for (const pid of candidates) {
    try {
      if (!inMachine(await readlink(`/proc/${pid}/ns/pid`))) continue;
      out.push({ pid, comm: (await readFile(`/proc/${pid}/comm`, 'utf8')).trim() });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Proportional set size of everything in the machine, pods included, in KiB: shared pages split fairly between machines. */
export async function memoryKiB(name: string, init: number): Promise<number> {
  let total = 0;
  for (const p of await machineProcesses(name, init)) {
    try {
      const text = await readFile(`/proc/${p.pid}/smaps_rollup`, 'utf8');
      total += Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    } catch {
      // kernel threads and exited processes have none
    }
  }
  return total;
}

/** Runs a command inside the machine from the host, without SSH (fault injection, checks). */
export async function machineExec(dirs: LabDirs, name: string, argv: readonly string[], allowFail = false) {
  const pid = await nspawnPid(dirs, name);
  const init = pid ? await initPid(pid) : undefined;
  if (!init) throw new HostError(name, 'exec', `${name} is not running (kha lab fault poweron ${name})`);
  return run('nsenter', ['--target', String(init), '--all', '--', ...argv], { allowFail, step: `${name} exec`, timeoutMs: 120_000 });
}

export function sshArgs(files: LabFiles, m: MachineSpec, extra: readonly string[] = []): string[] {
  return [
    '-i', files.key,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${files.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'ConnectTimeout=3',
    '-o', 'LogLevel=ERROR',
    ...extra,
    `root@${m.address}`,
  ];
}

/** Whether the machine's sshd listens yet, read from the host: no process is started for it. */
async function sshdListens(dirs: LabDirs, name: string): Promise<boolean> {
  const pid = await nspawnPid(dirs, name);
  const init = pid ? await initPid(pid) : undefined;
  return init !== undefined && (await pidListensOn(init, 22));
}

/** Until the machine accepts the lab key over SSH from the controller namespace, with its own host key. */
export async function waitForSsh(dirs: LabDirs, m: MachineSpec, timeoutMs: number): Promise<void> {
  const files = labFiles(dirs);
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (!(await sshdListens(dirs, m.name))) {
      last = 'sshd does not listen on port 22 yet';
      await sleep(250);
      continue;
    }
    const r = await runInNetns(CONTROLLER_NS, 'ssh', [...sshArgs(files, m), 'true'], { allowFail: true, timeoutMs: 10_000 }).catch(
      (e: unknown) => ({ code: 255, stdout: '', stderr: e instanceof Error ? e.message : String(e) }),
    );
    if (r.code === 0) return;
    last = r.stderr.trim();
    await sleep(250);
  }
  throw new HostError(m.name, 'boot', `no SSH from ${m.name} (${m.address}) within ${timeoutMs / 1000} s${last ? `: ${last}` : ''}`);
}

export function machineExists(dirs: LabDirs, name: string): boolean {
  return existsSync(machinePaths(dirs, name).dir);
}
