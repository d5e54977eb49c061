import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presentedHostKey, trustHostKey } from '../../../src/transport/host-key-scan.js';
import { KnownHosts } from '../../../src/transport/known-hosts.js';
import { tempDir } from './keys.js';
import { requireSshd, startSshd, type Sshd } from './sshd.js';

// kha setup's trust on a person's yes, against a real sshd on 127.0.0.1:
// the key it reads is the one the server holds, and once written it is the
// one known_hosts matches.

let dir = '';
let sshd: Sshd;

beforeAll(async () => {
  requireSshd();
  dir = tempDir('host-key-scan');
  const auth = join(dir, 'authorized_keys');
  mkdirSync(auth);
  sshd = await startSshd(dir, 'scan', auth);
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('reading and trusting a host key', () => {
  it('reads the key the server presents, with the fingerprint ssh-keygen prints, without logging in', async () => {
    const key = await presentedHostKey('lb1', '127.0.0.1', sshd.port, 5000);
    const held = Object.values(sshd.hostKeys).find((k) => k.blob.equals(key.blob));
    expect(held, 'a key the server holds').toBeDefined();
    expect(key.fingerprint).toBe(held!.fingerprint);
    expect(sshd.log()).not.toMatch(/Accepted /);
  });

  it('writes it so that known_hosts then matches it, in a new 0600 file, and after a last line without a line break', async () => {
    const key = await presentedHostKey('lb1', '127.0.0.1', sshd.port, 5000);
    const fresh = join(dir, 'new', 'known_hosts');
    await trustHostKey(fresh, '127.0.0.1', sshd.port, key);
    expect((statSync(fresh).mode & 0o777).toString(8)).toBe('600');
    expect((await KnownHosts.load(fresh)).check('127.0.0.1', sshd.port, key.blob).kind).toBe('match');
    const old = join(dir, 'old_known_hosts');
    writeFileSync(old, 'other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl');
    await trustHostKey(old, '127.0.0.1', sshd.port, key);
    expect(readFileSync(old, 'utf8').split('\n')).toHaveLength(3);
    expect((await KnownHosts.load(old)).check('127.0.0.1', sshd.port, key.blob).kind).toBe('match');
  });

  it('says so when nothing answers', async () => {
    await expect(presentedHostKey('lb9', '127.0.0.1', 1, 2000)).rejects.toThrow(/no SSH host key from 127\.0\.0\.1:1/);
  });
});
