// Whether a machine listens on a TCP port, read from the host in its
// /proc/<pid>/net/tcp (the table of the network namespace that pid is in).
// Booting fifty machines at once, asking each over ssh four times a second
// until it answers costs more CPU than the boots themselves; reading a file
// costs nothing, so the ssh waits for this first.
import { readFile } from 'node:fs/promises';

/** LISTEN in the kernel's TCP states (include/net/tcp_states.h). */
const TCP_LISTEN = '0A';

/** Whether a /proc/net/tcp or tcp6 table has a socket listening on `port`, on any address. */
export function listensOn(table: string, port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return table
    .split('\n')
    .slice(1)
    .some((line) => {
      const [, local, , state] = line.trim().split(/\s+/);
      return state === TCP_LISTEN && local?.split(':')[1] === hexPort;
    });
}

/** Whether the network namespace of process `pid` has a TCP listener on `port`; false when the process is gone. */
export async function pidListensOn(pid: number, port: number): Promise<boolean> {
  for (const file of ['tcp', 'tcp6']) {
    const table = await readFile(`/proc/${pid}/net/${file}`, 'utf8').catch(() => '');
    if (listensOn(table, port)) return true;
  }
  return false;
}
