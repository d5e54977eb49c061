// Each machine gets cgroups of its own before nspawn starts. On a host whose
// PID 1 is not systemd, nspawn (with --keep-unit) builds the container's tree
// right where it runs: without this, every machine's systemd shares one
// /payload tree, and one machine removing /system.slice/x.service under
// another's feet makes its units fail with 219/CGROUP.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PREFIX } from './state.js';

/** The hierarchies systemd inside a machine uses: v1's name=systemd and v2 (hybrid or pure). */
export function cgroupRoots(): string[] {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return ['/sys/fs/cgroup'];
  return ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((r) => existsSync(join(r, 'cgroup.procs')));
}

export function machineCgroups(name: string): string[] {
  return cgroupRoots().map((r) => join(r, PREFIX, name));
}

export async function createMachineCgroups(name: string): Promise<string[]> {
  const dirs = machineCgroups(name);
  for (const d of dirs) await mkdir(d, { recursive: true });
  return dirs;
}

async function removeDeepestFirst(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return;
  }
  for (const e of entries) await removeDeepestFirst(join(dir, e));
  await rmdir(dir).catch(() => undefined);
}

/** Removes the lab's cgroup trees (only empty cgroups can go: run after every machine stopped). */
export async function removeLabCgroups(): Promise<string[]> {
  const left: string[] = [];
  for (const r of cgroupRoots()) {
    const top = join(r, PREFIX);
    await removeDeepestFirst(top);
    if (existsSync(top)) left.push(top);
  }
  return left;
}
