import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseVrrpState, podVrrpStateCommand } from '../../../src/observe/keepalived-state.js';
import { LocalSession } from '../local-session.js';

// keepalived as a static pod: its state from the log the kubelet keeps (the
// newest file: the running container's), else from podman's, run in a shell
// with stand-in pgrep and podman.

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function shell(keepalivedRuns: boolean, podmanLog?: string): { run: (logs: string) => Promise<string> } {
  dir = mkdtempSync(join(tmpdir(), 'kha-podvrrp-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'pgrep'), `#!/bin/sh\nexit ${keepalivedRuns ? 0 : 1}\n`);
  // Without a log, podman knows no such container (as when the pods run under a kubelet).
  writeFileSync(
    join(bin, 'podman'),
    podmanLog === undefined
      ? '#!/bin/sh\necho "Error: no container with name or ID keepalived-keepalived found" >&2\nexit 125\n'
      : `#!/bin/sh\n[ "$1 $4" = "logs keepalived-keepalived" ] || exit 9\ncat <<'LOG'\n${podmanLog}\nLOG\n`,
  );
  for (const f of ['pgrep', 'podman']) chmodSync(join(bin, f), 0o755);
  return {
    run: async (logs) => {
      const r = await new LocalSession().exec(`PATH=${bin}:/usr/bin:/bin; ${podVrrpStateCommand(logs)}`);
      return r.stdout.trim() === 'STOPPED' ? 'STOPPED' : parseVrrpState(r.stdout);
    },
  };
}

describe("keepalived's state in a static pod", () => {
  it("reads the running container's log the kubelet keeps, not an older one", async () => {
    const s = shell(true);
    const pod = join(dir, 'pods', 'kube-system_keepalived-m1_0c1f', 'keepalived');
    mkdirSync(pod, { recursive: true });
    writeFileSync(join(pod, '0.log'), '2026-11-30T10:00:00Z stdout F Mon Nov 30 10:00:00 2026: (VI_1) Entering MASTER STATE\n');
    utimesSync(join(pod, '0.log'), new Date(1_000_000_000_000), new Date(1_000_000_000_000));
    writeFileSync(join(pod, '1.log'), '2026-11-30T10:05:00Z stdout F (VI_1) Entering BACKUP STATE\n2026-11-30T10:05:01Z stdout F (VI_1) Entering FAULT STATE\n');
    expect(await s.run(join(dir, 'pods'))).toBe('FAULT');
  });

  it('falls back to podman kube play\'s container log', async () => {
    const s = shell(true, '(VI_1) Entering BACKUP STATE\n(VI_1) Entering MASTER STATE');
    expect(await s.run(join(dir, 'no-pods'))).toBe('MASTER');
  });

  it('is STOPPED when no keepalived process runs, UNKNOWN when no log says', async () => {
    expect(await shell(false).run('/nonexistent')).toBe('STOPPED');
    expect(await shell(true).run('/nonexistent')).toBe('UNKNOWN');
  });
});
