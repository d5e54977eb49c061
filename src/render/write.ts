import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RenderedHost } from './render.js';

/** Writes each host's files under `outDir/<host>/<real path>` with their real modes. */
export async function writeRendered(outDir: string, hosts: readonly RenderedHost[]): Promise<string[]> {
  const written: string[] = [];
  for (const host of hosts) {
    await mkdir(join(outDir, host.host), { recursive: true });
    for (const file of host.files) {
      const target = join(outDir, host.host, file.path);
      await mkdir(dirname(target), { recursive: true });
      // A new file, created with its final mode, so a secret is never readable
      // by others, even briefly: an earlier render's file (maybe made
      // readable since) is removed, not written into.
      await rm(target, { force: true });
      await writeFile(target, file.content, { mode: file.mode, flag: 'wx' });
      await chmod(target, file.mode);
      written.push(target);
    }
  }
  return written;
}
