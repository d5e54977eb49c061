// The images a static-pods lab runs (`kha lab up --static-pods`): keepalived
// and haproxy built on the host from Debian's packages, the very versions of
// the lab's apt repository, with no registry and no container run during the
// build. A minbase Debian is the shared bottom layer; each package is
// installed in a chroot on an overlay over it, and the overlay's upper
// directory becomes the image's one layer of its own. The result is a podman
// storage directory in the lab cache that every static-pods machine mounts
// read-only as an additional image store: nothing is loaded per machine.
// Cached under a key, like the root fs: a new repository or recipe rebuilds it.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HostError } from '../errors.js';
import { aptRepoKey } from './aptrepo.js';
import { removeTree, unmountUnder } from './mounts.js';
import { hostMirror, SUITE } from './rootfs.js';
import { run } from './run.js';

export const IMAGE_REPO = 'localhost/kha-lab';
/** Bump when the recipe below changes, so stores made by an older kha are rebuilt. */
const RECIPE = 'i1';

interface ImageRecipe {
  name: 'keepalived' | 'haproxy';
  /** The package the image is named after first; its version is the tag. */
  packages: string[];
  containerfile: (base: string) => string;
}

const RECIPES: readonly ImageRecipe[] = [
  {
    name: 'keepalived',
    packages: ['keepalived'],
    // The Pod's command replaces these (kha's manifests name the binary); they make the image usable by itself.
    containerfile: (base) =>
      `FROM ${base}\nADD keepalived.tar /\nENTRYPOINT ["/usr/sbin/keepalived", "--dont-fork", "--log-console", "--log-detail"]\nCMD ["-f", "/etc/keepalived/keepalived.conf"]\n`,
  },
  {
    name: 'haproxy',
    // curl: podman kube play runs an httpGet liveness probe as `curl -f URL` inside the container.
    packages: ['haproxy', 'curl'],
    containerfile: (base) =>
      `FROM ${base}\nADD haproxy.tar /\nSTOPSIGNAL SIGUSR1\nENTRYPOINT ["/usr/sbin/haproxy", "-W", "-db"]\nCMD ["-f", "/etc/haproxy/haproxy.cfg"]\n`,
  },
];

export interface LabImages {
  /** The podman storage directory (graphroot) holding both images. */
  store: string;
  keepalived: string;
  haproxy: string;
}

export function imagesKey(): string {
  const h = createHash('sha256')
    .update(`${aptRepoKey()} ${RECIPES.map((r) => `${r.name}=${r.packages.join('+')}`).join(',')} ${RECIPE}`)
    .digest('hex')
    .slice(0, 12);
  return `${SUITE}-${h}`;
}

function baseDir(cache: string): string {
  const h = createHash('sha256').update(`${SUITE} minbase ${RECIPE}`).digest('hex').slice(0, 12);
  return join(cache, `imagebase-${SUITE}-${h}`);
}

export function imagesDir(cache: string): string {
  return join(cache, `images-${imagesKey()}`);
}

/** A package's version in the lab's apt repository (Packages index). */
export async function repoVersion(aptRepo: string, pkg: string): Promise<string> {
  const text = await readFile(join(aptRepo, 'Packages'), 'utf8');
  const versions = text
    .split(/\n\s*\n/)
    .filter((stanza) => new RegExp(`^Package: ${pkg.replace(/[.+]/g, '\\$&')}$`, 'm').test(stanza))
    .map((stanza) => /^Version: (.+)$/m.exec(stanza)?.[1] ?? '')
    .filter(Boolean);
  if (versions.length === 0) throw new HostError('localhost', 'lab images', `${pkg} is not in the lab's apt repository ${aptRepo}`);
  return versions.sort().at(-1)!;
}

/** `1:2.2.7-1+b2` → `2.2.7`: the upstream version, a valid tag, as the docs' example names images. */
export function upstreamVersion(debian: string): string {
  return debian.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
}

/** What an image does not need: docs, manuals, locales, apt's caches and lists. */
const SLIM = [
  'var/cache/apt/archives/*.deb',
  'var/cache/apt/*.bin',
  'var/lib/apt/lists/*',
  'var/log/*.log',
  'var/cache/debconf/*-old',
  'usr/share/doc/*',
  'usr/share/man/*',
  'usr/share/info/*',
  'usr/share/locale/*',
  'var/cache/ldconfig/aux-cache',
  'tmp/*',
];

async function slim(root: string): Promise<void> {
  await run('sh', ['-c', 'cd "$1" && shift && for p in "$@"; do rm -rf $p; done', 'sh', root, ...SLIM], { step: 'lab images' });
}

async function ensureBase(cache: string, env: NodeJS.ProcessEnv, say: (line: string) => void): Promise<string> {
  const dir = baseDir(cache);
  if (existsSync(join(dir, 'etc/os-release'))) return dir;
  const mirror = await hostMirror(env);
  const partial = `${dir}.partial`;
  await removeTree(partial);
  say(`building the images' base layer (${SUITE} minbase, from ${mirror}) into ${dir}: once`);
  await run('debootstrap', ['--variant=minbase', SUITE, partial, mirror], {
    timeoutMs: 1_200_000,
    step: 'lab images debootstrap',
    env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  await slim(partial);
  await rename(partial, dir);
  return dir;
}

/** Installs the recipe's packages in a chroot on an overlay over the base; returns the layer as a tar. */
async function packageLayer(work: string, base: string, aptRepo: string, mirror: string, recipe: ImageRecipe, pins: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const d = join(work, recipe.name);
  const [upper, ovl, merged] = [join(d, 'upper'), join(d, 'work'), join(d, 'merged')];
  for (const x of [upper, ovl, merged]) await mkdir(x, { recursive: true });
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base},upperdir=${upper},workdir=${ovl}`, merged], { step: 'lab images' });
  try {
    await mkdir(join(merged, 'srv/kha-lab-apt'), { recursive: true });
    await run('mount', ['--bind', '-o', 'ro', aptRepo, join(merged, 'srv/kha-lab-apt')], { step: 'lab images' });
    await run('mount', ['--bind', '/proc', join(merged, 'proc')], { step: 'lab images' });
    // The lab's repository first (the very .debs the lab installs); the mirror only for dependencies
    // the repository lacks (it was resolved against the machines' fuller root fs). Lists, sources and
    // the name service file live in /tmp and /etc/resolv.conf, emptied before the layer is taken.
    await writeFile(join(merged, 'tmp/kha-sources.list'), `deb [trusted=yes] file:/srv/kha-lab-apt ./\ndeb ${mirror} ${SUITE} main\n`);
    await writeFile(join(merged, 'etc/resolv.conf'), await readFile('/etc/resolv.conf', 'utf8').catch(() => ''));
    // No service starts inside the chroot.
    await writeFile(join(merged, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    const apt = ['-o', 'Dir::Etc::SourceList=/tmp/kha-sources.list', '-o', 'Dir::Etc::SourceParts=/nonexistent', '-o', 'Acquire::Languages=none'];
    const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('chroot', [merged, 'apt-get', ...apt, '-q', 'update'], { env: aptEnv, timeoutMs: 300_000, step: `lab images ${recipe.name}` });
    await run('chroot', [merged, 'apt-get', ...apt, '-q', '-y', '--no-install-recommends', 'install', ...pins], {
      env: aptEnv,
      timeoutMs: 600_000,
      step: `lab images ${recipe.name}`,
    });
    await rm(join(merged, 'usr/sbin/policy-rc.d'), { force: true });
    await writeFile(join(merged, 'etc/resolv.conf'), '');
    await slim(merged);
  } finally {
    await unmountUnder(merged);
  }
  // Overlay whiteouts (0:0 character devices) would become device nodes in a tar; the only files
  // deleted over the base are caches, so dropping them is harmless.
  await run('find', [upper, '-type', 'c', '-delete'], { step: 'lab images' });
  const tar = join(d, `${recipe.name}.tar`);
  await run('tar', ['--numeric-owner', '--xattrs', '-C', upper, '-cf', tar, '.'], { step: 'lab images' });
  return tar;
}

/** The cached store, building it first when missing (podman on the host; see hosttools.ts). */
export async function ensureImages(
  cache: string,
  aptRepo: string,
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
): Promise<LabImages & { built: boolean; seconds: number }> {
  const dir = imagesDir(cache);
  const done = join(dir, 'images.json');
  if (existsSync(done)) {
    const refs = JSON.parse(await readFile(done, 'utf8')) as { keepalived: string; haproxy: string };
    return { store: join(dir, 'store'), ...refs, built: false, seconds: 0 };
  }
  const started = Date.now();
  // podman records the store's path in its own database: the store is built where it stays, and only
  // the marker (images.json, written last) says it is complete. A store without it is built again.
  await removeTree(dir);
  const base = await ensureBase(cache, env, say);
  const mirror = await hostMirror(env);
  const work = join(dir, 'work');
  const store = join(dir, 'store');
  const runroot = `/run/kha-lab-images-${process.pid}`;
  await mkdir(work, { recursive: true });
  const refs: Record<string, string> = {};
  const podman = (args: string[], step: string) =>
    run(
      'podman',
      // No container runs here, so no cgroup manager or events journal is needed; the host's PID 1 may not be systemd.
      ['--root', store, '--runroot', runroot, '--storage-driver', 'overlay', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', ...args],
      { step, timeoutMs: 300_000 },
    );
  try {
    say(`building the lab's keepalived and haproxy images from the apt repository's packages into ${store}`);
    await run('tar', ['--numeric-owner', '--xattrs', '-C', base, '-cf', join(work, 'base.tar'), '.'], { step: 'lab images' });
    const baseRef = `${IMAGE_REPO}/base:${imagesKey()}`;
    await podman(['import', '-q', join(work, 'base.tar'), baseRef], 'lab images import');
    for (const recipe of RECIPES) {
      const versions = await Promise.all(recipe.packages.map(async (p) => (p === recipe.name ? `${p}=${await repoVersion(aptRepo, p)}` : p)));
      const tar = await packageLayer(work, base, aptRepo, mirror, recipe, versions, env);
      await rename(tar, join(work, `${recipe.name}.tar`));
      await writeFile(join(work, `Containerfile.${recipe.name}`), recipe.containerfile(baseRef));
      const ref = `${IMAGE_REPO}/${recipe.name}:${upstreamVersion(await repoVersion(aptRepo, recipe.name))}`;
      await podman(['build', '-q', '--network', 'none', '-f', join(work, `Containerfile.${recipe.name}`), '-t', ref, work], `lab images build ${recipe.name}`);
      refs[recipe.name] = ref;
    }
  } finally {
    // podman build mounts layers under the store and the runroot; none may outlive the build.
    await unmountUnder(store);
    await unmountUnder(runroot);
    await rm(runroot, { recursive: true, force: true });
    await removeTree(work);
  }
  // podman's own database (containers, the runroot it was built with) is of no use to the machines,
  // which read only the image storage; left, it would tie the store to a runroot gone with the build.
  await rm(join(store, 'libpod'), { recursive: true, force: true });
  const images = { keepalived: refs.keepalived!, haproxy: refs.haproxy! };
  await writeFile(done, `${JSON.stringify(images, null, 2)}\n`);
  return { store, ...images, built: true, seconds: (Date.now() - started) / 1000 };
}
