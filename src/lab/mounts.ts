// Reading and undoing the lab's mounts. Anything under a lab or cache
// directory is unmounted deepest first before that directory is removed, so
// a removal never walks into a live /proc or an overlay.
import { readFile, rm } from 'node:fs/promises';
import { run } from './run.js';

/** Mount points from /proc/self/mounts (octal escapes decoded). */
export async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mounts', 'utf8');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => (l.split(' ')[1] ?? '').replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
}

export async function mountsUnder(dir: string): Promise<string[]> {
  const base = dir.endsWith('/') ? dir : `${dir}/`;
  return (await mountPoints()).filter((m) => m === dir || m.startsWith(base));
}

export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const mounts = (await mountsUnder(dir)).sort((a, b) => b.length - a.length);
    if (mounts.length === 0) return;
    for (const m of mounts) {
      const r = await run('umount', [m], { allowFail: true });
      // A busy mount (a process still inside) is detached so down can finish.
      if (r.code !== 0) await run('umount', ['-l', m], { allowFail: true });
    }
  }
}

/** rm -rf that refuses to cross into a mount. */
export async function removeTree(dir: string): Promise<void> {
  await unmountUnder(dir);
  const left = await mountsUnder(dir);
  if (left.length > 0) throw new Error(`cannot remove ${dir}: still mounted: ${left.join(', ')}`);
  await rm(dir, { recursive: true, force: true });
}
