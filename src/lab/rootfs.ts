// The machines' Debian 12 root fs: built once with debootstrap from the
// host's own Debian mirror, customised for the lab, and cached under a key
// that changes with the package list, so a changed list rebuilds it.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HostError } from '../errors.js';
import { removeTree } from './mounts.js';
import { run } from './run.js';
import { APT_MOUNT } from './state.js';

export const SUITE = 'bookworm';
export const BASE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'openssh-server',
  'iproute2',
  'curl',
  'python3',
  // The apiserver stand-in speaks HTTP/2 with it, so that client-go's PING health check runs through the VIP.
  'python3-h2',
  'ca-certificates',
  'iputils-ping',
  'procps',
  // Without it every package install inside a machine warns that debconf delays configuration.
  'apt-utils',
] as const;
/** Bump when the customisation below changes, so caches made by an older kha are rebuilt. */
const CUSTOMISATION = 'c1';

export function rootfsKey(): string {
  const h = createHash('sha256').update(`${SUITE} ${BASE_PACKAGES.join(',')} ${CUSTOMISATION}`).digest('hex').slice(0, 12);
  return `${SUITE}-${h}`;
}

/** The Debian mirror this host itself uses (deb822 or one-line sources); KHA_LAB_MIRROR wins. */
export async function hostMirror(env: NodeJS.ProcessEnv): Promise<string> {
  if (env.KHA_LAB_MIRROR) return env.KHA_LAB_MIRROR;
  const candidates: string[] = [];
  try {
    const deb822 = await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8');
    for (const stanza of deb822.split(/\n\s*\n/)) {
      const uris = /^URIs:\s*(.+)$/m.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
      if (suites.includes(SUITE)) candidates.push(...uris);
    }
  } catch {
    // no deb822 file: try the one-line format
  }
  try {
    const list = await readFile('/etc/apt/sources.list', 'utf8');
    for (const line of list.split('\n')) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (m?.[1] && m[2] === SUITE) candidates.push(m[1]);
    }
  } catch {
    // neither file
  }
  const mirror = candidates.find((u) => /^https?:\/\//.test(u));
  if (!mirror) {
    throw new HostError(
      'localhost',
      'rootfs',
      `no Debian ${SUITE} mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list; set KHA_LAB_MIRROR=http://your-mirror/debian`,
    );
  }
  return mirror;
}

export function rootfsDir(cache: string): string {
  return join(cache, `rootfs-${rootfsKey()}`);
}

async function customise(root: string): Promise<void> {
  // Host keys and machine-id are made per machine; a shared one would make every machine the same host.
  for (const f of await readdir(join(root, 'etc/ssh'))) {
    if (f.startsWith('ssh_host_')) await rm(join(root, 'etc/ssh', f), { force: true });
  }
  await writeFile(join(root, 'etc/machine-id'), '');
  await rm(join(root, 'var/lib/dbus/machine-id'), { force: true });
  // Timers that would reach for a network the machines do not have, and race kha's own apt runs.
  const system = join(root, 'etc/systemd/system');
  await mkdir(system, { recursive: true });
  for (const unit of ['apt-daily.timer', 'apt-daily-upgrade.timer', 'apt-daily.service', 'apt-daily-upgrade.service']) {
    await rm(join(system, unit), { force: true });
    await symlink('/dev/null', join(system, unit));
  }
  await rm(join(system, 'timers.target.wants'), { recursive: true, force: true });
  await mkdir(join(root, 'etc/ssh/sshd_config.d'), { recursive: true });
  await writeFile(
    join(root, 'etc/ssh/sshd_config.d/kha-lab.conf'),
    '# Lab machines have one pre-generated host key, written into the lab known_hosts.\n' +
      'HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nPermitRootLogin prohibit-password\nUseDNS no\n',
  );
  // apt sees only the lab's offline repository (bind-mounted read-only at boot).
  await writeFile(join(root, 'etc/apt/sources.list'), `deb [trusted=yes] file:${APT_MOUNT} ./\n`);
  await rm(join(root, 'etc/apt/sources.list.d'), { recursive: true, force: true });
  await mkdir(join(root, 'etc/apt/sources.list.d'), { recursive: true });
  await writeFile(join(root, 'etc/apt/apt.conf.d/90kha-lab'), 'Acquire::Languages "none";\nAcquire::Retries "0";\n');
  await mkdir(join(root, APT_MOUNT.slice(1)), { recursive: true });
  await writeFile(join(root, 'etc/resolv.conf'), '');
  await run('sh', ['-c', 'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/var/log/*.log', 'sh', root]);
}

/** The cached root fs, building it first when missing. */
export async function ensureRootfs(
  cache: string,
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
): Promise<{ dir: string; built: boolean; seconds: number }> {
  const dir = rootfsDir(cache);
  if (existsSync(join(dir, 'etc/os-release'))) return { dir, built: false, seconds: 0 };
  const started = Date.now();
  const mirror = await hostMirror(env);
  await mkdir(cache, { recursive: true });
  // Build beside the final path and rename only when complete: an interrupted build is never taken as good.
  const partial = `${dir}.partial`;
  await removeTree(partial);
  say(`building the lab root fs (${SUITE}, from ${mirror}) into ${dir}: a few minutes, once`);
  await run(
    'debootstrap',
    ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, SUITE, partial, mirror],
    { timeoutMs: 1_200_000, step: 'rootfs debootstrap', env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } },
  ).catch(async (e: unknown) => {
    await removeTree(partial).catch(() => undefined);
    throw e;
  });
  await customise(partial);
  await rename(partial, dir);
  return { dir, built: true, seconds: (Date.now() - started) / 1000 };
}
