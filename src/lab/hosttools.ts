// The lab needs root and a handful of Debian tools; it installs the missing
// ones itself when it can, and otherwise says which package to install.
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { HostError } from '../errors.js';
import { run } from './run.js';

/** tool → the Debian package that ships it. */
export const HOST_TOOLS: Readonly<Record<string, string>> = {
  debootstrap: 'debootstrap',
  'systemd-nspawn': 'systemd-container',
  ip: 'iproute2',
  openssl: 'openssl',
  'dpkg-scanpackages': 'dpkg-dev',
  'ssh-keygen': 'openssh-client',
  ssh: 'openssh-client',
  nsenter: 'util-linux',
  mount: 'mount',
  umount: 'mount',
  'apt-get': 'apt',
  gzip: 'gzip',
  tar: 'tar',
  curl: 'curl',
};

/**
 * Only for `lab up --static-pods`: the images the masters run are built with
 * the host's podman (import and build, no container run; images.ts). chroot
 * installs the packages into the images' layers.
 */
export const STATIC_PODS_HOST_TOOLS: Readonly<Record<string, string>> = {
  podman: 'podman',
  chroot: 'coreutils',
};

async function onPath(tool: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const dirs = (env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).concat(['/usr/sbin', '/sbin']);
  for (const d of dirs) {
    try {
      await access(join(d, tool), constants.X_OK);
      return true;
    } catch {
      // next directory
    }
  }
  return false;
}

export async function missingTools(env: NodeJS.ProcessEnv, tools: Readonly<Record<string, string>> = HOST_TOOLS): Promise<string[]> {
  const missing: string[] = [];
  for (const tool of Object.keys(tools)) if (!(await onPath(tool, env))) missing.push(tool);
  return missing;
}

export function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return;
  throw new HostError(
    'localhost',
    'lab preflight',
    'kha lab needs root: it creates network namespaces, mounts overlays and boots systemd-nspawn machines. Run it with sudo.',
  );
}

/** Installs what is missing with apt-get, then refuses if anything still is. */
export async function ensureHostTools(env: NodeJS.ProcessEnv, say: (line: string) => void, options: { staticPods?: boolean } = {}): Promise<void> {
  requireRoot();
  const tools = options.staticPods ? { ...HOST_TOOLS, ...STATIC_PODS_HOST_TOOLS } : HOST_TOOLS;
  let missing = await missingTools(env, tools);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((t) => tools[t] ?? t))];
  say(`installing host tools: ${packages.join(' ')}`);
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env: aptEnv, allowFail: true, timeoutMs: 300_000 }).catch(() => undefined);
  await run('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { env: aptEnv, allowFail: true, timeoutMs: 600_000 }).catch(
    () => undefined,
  );
  missing = await missingTools(env, tools);
  if (missing.length > 0) {
    const lines = missing.map((t) => `${t} (Debian package ${tools[t] ?? t})`);
    throw new HostError('localhost', 'lab preflight', `missing host tools: ${lines.join(', ')}; install them with: apt-get install ${[...new Set(missing.map((t) => tools[t] ?? t))].join(' ')}`);
  }
}
