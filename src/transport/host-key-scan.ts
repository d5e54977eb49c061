import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NodeSSH } from 'node-ssh';
import { TransportError } from './errors.js';
import { describeKey, hostPortName, type KeyInfo } from './known-hosts.js';
import { expandHome } from './private-key.js';

// What `kha setup` needs to trust a host the way a person does with ssh:
// see the key it presents, and only on a yes write it to known_hosts. The
// connection stops at the key: nothing is authenticated or run.

export interface PresentedKey extends KeyInfo {
  blob: Buffer;
}

/** The host key `address:port` presents, read by a handshake refused at the key. */
export async function presentedHostKey(name: string, address: string, port: number, timeoutMs: number): Promise<PresentedKey> {
  let blob: Buffer | undefined;
  const ssh = new NodeSSH();
  try {
    await ssh
      .connect({
        host: address,
        port,
        username: 'kha-host-key-scan',
        readyTimeout: timeoutMs,
        hostVerifier: (key: Buffer) => {
          blob = key;
          return false;
        },
      })
      .catch(() => undefined);
  } finally {
    ssh.dispose();
  }
  if (!blob) throw new TransportError(name, 'host key', `no SSH host key from ${address}:${port} within ${timeoutMs} ms: is the address right and sshd running?`);
  return { ...describeKey(blob), blob };
}

/** Adds the key as OpenSSH would (`host` or `[host]:port`), creating the file 0600 in a 0700 directory when missing. */
export async function trustHostKey(knownHosts: string, address: string, port: number, key: PresentedKey): Promise<void> {
  const file = expandHome(knownHosts);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const before = await readFile(file, 'utf8').catch(() => '');
  // A file without its final line break would glue our line to its last one.
  const lead = before !== '' && !before.endsWith('\n') ? '\n' : '';
  await appendFile(file, `${lead}${hostPortName(address, port)} ${key.type} ${key.blob.toString('base64')}\n`, { mode: 0o600 });
}
