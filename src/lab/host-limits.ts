// Kernel limits of this host that the lab's machines share. Every machine
// runs as root with no user namespace of its own, so the per-user inotify
// limit is one budget for the host and all of them: a booted machine holds 8
// instances (systemd, journald, logind, dbus; counted on 2026-11-30), so the
// kernel's default of 128 holds about fifteen machines, and a lab of 55 did
// not boot (w38's sshd never listened within 120 s). `up` raises the limit
// when the lab needs more, and never lowers it.
import { readFile, writeFile } from 'node:fs/promises';

const INOTIFY_INSTANCES = '/proc/sys/fs/inotify/max_user_instances';
/** What the host keeps for itself: the kernel's default. */
const HOST_INSTANCES = 128;
/** A booted lab machine holds 8; twice that leaves room for what apply installs and a drill starts. */
export const INSTANCES_PER_MACHINE = 16;

export function inotifyInstancesNeeded(machines: number): number {
  return HOST_INSTANCES + INSTANCES_PER_MACHINE * machines;
}

/** Raises fs.inotify.max_user_instances to what `machines` need; returns the new value when it raised it. */
export async function raiseInotifyInstances(machines: number): Promise<number | undefined> {
  const current = Number.parseInt(await readFile(INOTIFY_INSTANCES, 'utf8'), 10);
  const needed = inotifyInstancesNeeded(machines);
  if (Number.isInteger(current) && current >= needed) return undefined;
  await writeFile(INOTIFY_INSTANCES, `${needed}\n`);
  return needed;
}
