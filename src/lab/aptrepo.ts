// The lab's offline apt repository: the packages kha installs and their
// dependency closure, downloaded once on the host (which has the mirror) and
// published as a flat repository that every machine bind-mounts read-only.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTree } from './mounts.js';
import { hostMirror, rootfsKey, SUITE } from './rootfs.js';
import { run } from './run.js';

/** What kha may install on a host; nginx's stream module is what the localhost proxy needs. */
export const REPO_PACKAGES = ['keepalived', 'haproxy', 'nginx', 'libnginx-mod-stream', 'firewalld', 'ufw', 'psmisc'] as const;
/**
 * What a static-pods lab's masters install to stand in for the kubelet's
 * container runtime (`kha lab up --static-pods`). Downloaded, and installed
 * in the machines, without Recommends: with them podman pulls buildah,
 * slirp4netns, fuse-overlayfs... which the lab does not use. catatonit is
 * what podman builds its pause image from; runc because crun needs
 * CAP_SYS_RESOURCE inside nspawn (see images.ts).
 */
export const PODMAN_PACKAGES = ['podman', 'runc', 'catatonit'] as const;

export function aptRepoKey(): string {
  const h = createHash('sha256')
    .update(`${rootfsKey()} ${REPO_PACKAGES.join(',')} ${PODMAN_PACKAGES.join(',')} no-recommends r2`)
    .digest('hex')
    .slice(0, 12);
  return `${SUITE}-${h}`;
}

export function aptRepoDir(cache: string): string {
  return join(cache, `apt-${aptRepoKey()}`);
}

function aptOptions(work: string, rootfs: string): string[] {
  // apt resolves against the root fs's own dpkg status, so the closure is exactly what a machine lacks.
  return [
    '-o', `Dir::Etc::SourceList=${join(work, 'sources.list')}`,
    '-o', 'Dir::Etc::SourceParts=/nonexistent',
    '-o', `Dir::State::Lists=${join(work, 'lists')}`,
    '-o', `Dir::State::status=${join(rootfs, 'var/lib/dpkg/status')}`,
    '-o', `Dir::Cache=${join(work, 'cache')}`,
    '-o', `Dir::Cache::archives=${join(work, 'archives')}`,
    '-o', 'Debug::NoLocking=1',
    '-o', 'APT::Sandbox::User=root',
    '-o', 'Acquire::Languages=none',
  ];
}

async function releaseFile(dir: string, files: string[]): Promise<string> {
  const md5: string[] = [];
  const sha256: string[] = [];
  for (const f of files) {
    const body = await readFile(join(dir, f));
    const size = (await stat(join(dir, f))).size;
    md5.push(` ${createHash('md5').update(body).digest('hex')} ${size} ${f}`);
    sha256.push(` ${createHash('sha256').update(body).digest('hex')} ${size} ${f}`);
  }
  return [
    'Origin: kha-lab',
    'Label: kha-lab',
    `Suite: ${SUITE}`,
    'Architectures: amd64 all',
    `Date: ${new Date().toUTCString()}`,
    'MD5Sum:',
    ...md5,
    'SHA256:',
    ...sha256,
    '',
  ].join('\n');
}

/** The cached repository, downloading and indexing it first when missing. */
export async function ensureAptRepo(
  cache: string,
  rootfs: string,
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
): Promise<{ dir: string; built: boolean; packages: number }> {
  const dir = aptRepoDir(cache);
  if (existsSync(join(dir, 'Release'))) {
    const debs = (await readdir(dir)).filter((f) => f.endsWith('.deb')).length;
    return { dir, built: false, packages: debs };
  }
  const mirror = await hostMirror(env);
  const partial = `${dir}.partial`;
  await removeTree(partial);
  const work = join(partial, '.apt');
  for (const d of ['lists/partial', 'archives/partial', 'cache']) await mkdir(join(work, d), { recursive: true });
  await writeFile(join(work, 'sources.list'), `deb ${mirror} ${SUITE} main\n`);
  const opts = aptOptions(work, rootfs);
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  say(`downloading ${[...REPO_PACKAGES, ...PODMAN_PACKAGES].join(' ')} and their dependencies from ${mirror} into ${dir}`);
  await run('apt-get', [...opts, 'update'], { env: aptEnv, timeoutMs: 300_000, step: 'apt repo update' });
  // All together, then each alone: a package installed by itself may pick other alternatives.
  // The podman set without Recommends, as the machines install it (a separate
  // run: the Recommends of kha's own packages stay as a host would get them).
  const sets: Array<{ packages: string[]; extra: string[] }> = [
    { packages: [...REPO_PACKAGES], extra: [] },
    ...REPO_PACKAGES.map((p) => ({ packages: [p], extra: [] })),
    { packages: [...PODMAN_PACKAGES], extra: ['-o', 'APT::Install-Recommends=false'] },
  ];
  for (const set of sets) {
    await run('apt-get', [...opts, ...set.extra, 'install', '--download-only', '-y', ...set.packages], {
      env: aptEnv,
      timeoutMs: 600_000,
      step: 'apt repo download',
    });
  }
  const archives = join(work, 'archives');
  let count = 0;
  for (const f of await readdir(archives)) {
    if (!f.endsWith('.deb')) continue;
    await rename(join(archives, f), join(partial, f));
    count++;
  }
  await removeTree(work);
  const scanned = await run('dpkg-scanpackages', ['--multiversion', '.', '/dev/null'], { cwd: partial, step: 'apt repo index' });
  await writeFile(join(partial, 'Packages'), scanned.stdout);
  await run('gzip', ['-9', '-k', '-f', 'Packages'], { cwd: partial });
  await writeFile(join(partial, 'Release'), await releaseFile(partial, ['Packages', 'Packages.gz']));
  await rename(partial, dir);
  return { dir, built: true, packages: count };
}
