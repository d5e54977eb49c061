// The SSH session against real OpenSSH servers on 127.0.0.1.

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostError } from '../../../src/errors.js';
import { Secret } from '../../../src/secret.js';
import { TransportError } from '../../../src/transport/errors.js';
import type { Session } from '../../../src/transport/session.js';
import { connect, connectAll, type SshTarget } from '../../../src/transport/ssh.js';
import { alive, makeKey, tempDir, type TestKey } from './keys.js';
import { createSudoUser, requireSshd, startSshd, type Sshd, type TestUser } from './sshd.js';

const SUDO_PASSWORD = "s3cr'et pw";
// The command's shell runs under `timeout`, started by the login shell's
// exec from this connection's sshd process: that is its grandparent.
const SSHD_PID = '$(cut -d" " -f4 /proc/$PPID/stat)';

let dir: string;
let a: Sshd;
let b: Sshd;
let client: TestKey;
let encrypted: TestKey;
let stranger: TestKey;
let knownHosts: string;
let nopasswd: TestUser;
let withPassword: TestUser;

beforeAll(async () => {
  requireSshd();
  dir = tempDir('ssh');
  // sshd reads a non-root user's authorized_keys as that user.
  chmodSync(dir, 0o755);
  client = makeKey(dir, 'client', ['-t', 'ed25519']);
  encrypted = makeKey(dir, 'client-enc', ['-t', 'ed25519'], 'open sesame');
  stranger = makeKey(dir, 'stranger', ['-t', 'ed25519']);
  const auth = join(dir, 'authorized_keys');
  mkdirSync(auth);
  const authorized = `${client.line}\n${encrypted.line}\n`;
  nopasswd = createSudoUser('n', join(dir, 'home-n'), 'unused-pw', (u) => `${u} ALL=(ALL) NOPASSWD: ALL`);
  withPassword = createSudoUser('p', join(dir, 'home-p'), SUDO_PASSWORD, (u) => `${u} ALL=(ALL) ALL`);
  for (const user of ['root', nopasswd.name, withPassword.name]) writeFileSync(join(auth, user), authorized);
  // B logs at DEBUG1 to show the direct-tcpip requests of a jump through it.
  [a, b] = await Promise.all([startSshd(dir, 'a', auth), startSshd(dir, 'b', auth, 'DEBUG1')]);
  knownHosts = writeKnownHosts('known_hosts', [`[127.0.0.1]:${a.port} ${a.hostKeys.ed25519.line}`, `[127.0.0.1]:${b.port} ${b.hostKeys.ed25519.line}`]);
}, 60_000);

afterAll(async () => {
  nopasswd?.remove();
  withPassword?.remove();
  await Promise.all([a?.stop(), b?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function writeKnownHosts(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function target(overrides: Partial<SshTarget> = {}): SshTarget {
  return {
    name: 'lb-a',
    address: '127.0.0.1',
    port: a.port,
    user: 'root',
    identityFile: client.privatePath,
    agent: false,
    knownHosts,
    sudo: false,
    connectTimeoutMs: 5_000,
    ...overrides,
  };
}

async function withSession<T>(t: SshTarget, body: (s: Session) => Promise<T>): Promise<T> {
  const session = await connect(t);
  try {
    return await body(session);
  } finally {
    await session.close();
  }
}

async function refusal(t: SshTarget): Promise<TransportError> {
  const err = await connect(t).then(
    async (s) => {
      await s.close();
      return new Error('connected, but should have been refused');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TransportError);
  return err as TransportError;
}

describe('exec', { timeout: 60_000 }, () => {
  it('returns exit code, stdout and stderr untrimmed, and never throws for a non-zero exit', async () => {
    await withSession(target(), async (s) => {
      expect(s.host).toBe('lb-a');
      expect(await s.exec('echo " out "; echo err >&2; exit 3')).toEqual({ code: 3, stdout: ' out \n', stderr: 'err\n' });
      expect((await s.exec('id -u')).stdout).toBe('0\n');
      expect((await s.exec('kill -9 $$')).code).toBe(137);
    });
  });

  it('feeds stdin, large and multi-byte, and keeps characters split across chunks whole', async () => {
    await withSession(target(), async (s) => {
      const big = 'é€😀 kha\n'.repeat(100_000);
      const result = await s.exec('cat', { stdin: big });
      expect(result.code).toBe(0);
      expect(result.stdout === big).toBe(true);
      expect((await s.exec('wc -c', { stdin: Buffer.from([0, 255, 10]) })).stdout.trim()).toBe('3');
    });
  });

  it('kills a command that outlives its time limit and names host and command', async () => {
    await withSession(target(), async (s) => {
      const pidFile = join(dir, 'sleeper.pid');
      const started = Date.now();
      // Long enough for the remote shell to start: root's rc files may be slow.
      const err = await s.exec(`echo $$ > ${pidFile}; exec sleep 30`, { timeoutMs: 4_000 }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(err).toBeInstanceOf(TransportError);
      expect(err).toMatchObject({ host: 'lb-a', step: 'exec' });
      expect((err as Error).message).toBe(`timed out after 4000 ms and was killed: echo $$ > ${pidFile}; exec sleep 30`);
      const pid = readFileSync(pidFile, 'utf8').trim();
      await expect.poll(() => alive(Number(pid)), { timeout: 3_000 }).toBe(false);
      // The connection survives a killed command.
      expect((await s.exec('echo still here')).stdout).toBe('still here\n');
    });
  });

  it('gives up on a connection that stops answering, and still closes', async () => {
    const s = await connect(target());
    const pidFile = join(dir, 'frozen.pid');
    try {
      // Freezing this connection's sshd process: nothing answers, nothing closes.
      const err = await s.exec(`echo ${SSHD_PID} > ${pidFile}; kill -STOP ${SSHD_PID}`, { timeoutMs: 1_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect((err as Error).message).toMatch(/^no answer within \d+ ms while running echo \$\(cut/);
      const closing = Date.now();
      await s.close();
      expect(Date.now() - closing).toBeLessThan(5_000);
    } finally {
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    }
  });

  it('does not choke on stdin the command never reads', async () => {
    await withSession(target(), async (s) => {
      expect(await s.exec('exit 0', { stdin: Buffer.alloc(8 * 1024 * 1024, 'x') })).toEqual({ code: 0, stdout: '', stderr: '' });
      expect((await s.exec('echo alive')).stdout).toBe('alive\n');
    });
  });

  it('throws TransportError when the connection drops mid-command, and for every later command', async () => {
    const s = await connect(target());
    try {
      await expect(s.exec(`kill -9 ${SSHD_PID}; sleep 5`)).rejects.toThrow(/^connection lost while running kill -9 \$\(cut/);
      await expect(s.exec('true')).rejects.toBeInstanceOf(TransportError);
    } finally {
      await s.close();
    }
  });

  it('refuses commands after close', async () => {
    const s = await connect(target());
    await s.close();
    await expect(s.exec('true')).rejects.toThrow(/connection lost \(connection closed\); cannot run true/);
  });
});

describe('put and get', { timeout: 60_000 }, () => {
  it('replaces a file atomically with its mode and owner, and reads bytes back exactly', async () => {
    await withSession(target(), async (s) => {
      const path = join(dir, 'etc', 'keepalived.conf');
      mkdirSync(join(dir, 'etc'));
      writeFileSync(path, 'old');
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await s.put(path, bytes, { mode: 0o600, owner: 'nobody', group: 'nogroup' });
      expect(readFileSync(path)).toEqual(bytes);
      const stat = statSync(path);
      expect(stat.mode & 0o7777).toBe(0o600);
      expect(stat.uid).toBe(Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })));
      expect(await s.get(path)).toEqual(bytes);
      expect(execFileSync('ls', ['-A', join(dir, 'etc')], { encoding: 'utf8' })).toBe('keepalived.conf\n');
    });
  });

  it('get returns null for a missing file; put and get report other failures as HostError', async () => {
    await withSession(target(), async (s) => {
      expect(await s.get(join(dir, 'absent'))).toBeNull();
      const err = await s.put(join(dir, 'no-dir', 'f'), 'x', { mode: 0o644 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HostError);
      expect(err).toMatchObject({ host: 'lb-a', step: `put ${join(dir, 'no-dir', 'f')}` });
      expect((err as Error).message).toMatch(/failed \(exit 2\): .*no-dir.*(nonexistent|No such file)/);
      await expect(s.get(dir)).rejects.toThrow(/reading .* failed \(exit 1\): cat: .*Is a directory/);
    });
  });
});

describe('host keys', { timeout: 60_000 }, () => {
  it('refuses an unknown host with its fingerprint and the ssh-keyscan line', async () => {
    const empty = writeKnownHosts('empty_known_hosts', []);
    const err = await refusal(target({ knownHosts: empty }));
    expect(err.step).toBe('host key');
    expect(err.message).toBe(
      `host key for lb-a (127.0.0.1:${a.port}) is not in ${empty}; verify the fingerprint ` +
        `ssh-ed25519 ${a.hostKeys.ed25519.fingerprint} and add it with \`ssh-keyscan -p ${a.port} 127.0.0.1 >> ${empty}\``,
    );
  });

  it('accepts what that ssh-keyscan line writes', async () => {
    const scanned = execFileSync('ssh-keyscan', ['-p', String(a.port), '127.0.0.1'], { encoding: 'utf8', stdio: 'pipe' });
    const file = writeKnownHosts('scanned_known_hosts', [scanned]);
    await withSession(target({ knownHosts: file }), async (s) => expect((await s.exec('true')).code).toBe(0));
  });

  it('refuses a changed key, naming both fingerprints and the file:line of the expected one', async () => {
    const file = writeKnownHosts('changed_known_hosts', ['# lb-a', `[127.0.0.1]:${a.port} ${b.hostKeys.ed25519.line}`]);
    const err = await refusal(target({ knownHosts: file }));
    expect(err.message).toContain(
      `the host presented ssh-ed25519 ${a.hostKeys.ed25519.fingerprint}, expected ssh-ed25519 ${b.hostKeys.ed25519.fingerprint} at ${file}:2`,
    );
  });

  it('refuses a revoked key even when another line trusts it', async () => {
    const file = writeKnownHosts('revoked_known_hosts', [
      `[127.0.0.1]:${a.port} ${a.hostKeys.ed25519.line}`,
      `@revoked * ${a.hostKeys.ed25519.line}`,
    ]);
    const err = await refusal(target({ knownHosts: file }));
    expect(err.message).toBe(
      `host key ssh-ed25519 ${a.hostKeys.ed25519.fingerprint} of lb-a (127.0.0.1:${a.port}) is revoked in ${file}:2; refusing to connect`,
    );
  });

  it('accepts hashed entries from ssh-keygen -H', async () => {
    const file = writeKnownHosts('hashed_known_hosts', [`[127.0.0.1]:${a.port} ${a.hostKeys.ed25519.line}`]);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'pipe' });
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);
    await withSession(target({ knownHosts: file }), async (s) => expect((await s.exec('true')).code).toBe(0));
  });

  it('asks the server for the key type known_hosts holds (an RSA-only entry still connects)', async () => {
    for (const key of [a.hostKeys.rsa, a.hostKeys.ecdsa]) {
      const file = writeKnownHosts(`only_${key.type}`, [`[127.0.0.1]:${a.port} ${key.line}`]);
      await withSession(target({ knownHosts: file }), async (s) => expect((await s.exec('true')).code).toBe(0));
    }
  });
});

describe('authentication and reachability', { timeout: 60_000 }, () => {
  it('asks for the passphrase of an encrypted key, once', async () => {
    const asked: string[] = [];
    const passphrase = async (file: string) => {
      asked.push(file);
      return new Secret('open sesame', 'prompt');
    };
    await withSession(target({ identityFile: encrypted.privatePath, passphrase }), async (s) => {
      expect((await s.exec('true')).code).toBe(0);
    });
    expect(asked).toEqual([encrypted.privatePath]);
  });

  it('uses the SSH agent without an identity file, and as a fallback for a refused key', async () => {
    const agent = await startAgent(client.privatePath);
    try {
      for (const t of [target({ agent: agent.socket }), target({ identityFile: stranger.privatePath, agent: agent.socket })]) {
        if (!t.identityFile?.includes('stranger')) delete t.identityFile;
        await withSession(t, async (s) => expect((await s.exec('true')).code).toBe(0));
      }
    } finally {
      agent.stop();
    }
  });

  it('needs an identity file or an agent', async () => {
    const t = target();
    delete t.identityFile;
    const err = await refusal(t);
    expect(err.message).toBe('no identity_file for lb-a and no SSH agent (SSH_AUTH_SOCK is not set)');
  });

  it('reports a key the server does not accept', async () => {
    const err = await refusal(target({ identityFile: stranger.privatePath }));
    expect(err.message).toBe(
      `authentication as root at 127.0.0.1:${a.port} failed (tried key ${stranger.privatePath}): ` +
        'is the public key in ~root/.ssh/authorized_keys there?',
    );
  });

  it('reports a closed port', async () => {
    const err = await refusal(target({ port: 1 }));
    expect(err.message).toBe('connection refused by 127.0.0.1:1: is sshd running there and is the port right?');
  });

  it('connectAll reports every host: the good, the refused and the unknown', async () => {
    const empty = writeKnownHosts('empty2_known_hosts', []);
    const results = await connectAll([target(), target({ name: 'dead', port: 1 }), target({ name: 'new', knownHosts: empty })]);
    try {
      expect(results.map((r) => r.target.name)).toEqual(['lb-a', 'dead', 'new']);
      expect(results[0]?.error).toBeUndefined();
      expect((await results[0]?.session?.exec('echo ok'))?.stdout).toBe('ok\n');
      expect(results[1]?.error?.message).toMatch(/connection refused/);
      expect(results[2]?.error?.message).toMatch(/is not in .*empty2_known_hosts/);
    } finally {
      await Promise.all(results.map((r) => r.session?.close()));
    }
  });
});

describe('sudo', { timeout: 60_000 }, () => {
  it('runs as root through sudo -n for a NOPASSWD user, and as the user when asked not to', async () => {
    await withSession(target({ user: nopasswd.name, sudo: 'nopasswd' }), async (s) => {
      expect((await s.exec('id -u')).stdout).toBe('0\n');
      expect((await s.exec('id -un', { sudo: false })).stdout).toBe(`${nopasswd.name}\n`);
      const path = join(dir, 'root-only', 'f');
      mkdirSync(join(dir, 'root-only'), { mode: 0o700 });
      await s.put(path, 'secret', { mode: 0o600 });
      expect(statSync(path)).toMatchObject({ uid: 0 });
      expect((await s.get(path))?.toString()).toBe('secret');
    });
  });

  it('sends the password on stdin to sudo -S, and the command never sees it', async () => {
    const password = new Secret(SUDO_PASSWORD, 'env:KHA_SUDO_PASSWORD');
    await withSession(target({ user: withPassword.name, sudo: { password } }), async (s) => {
      expect((await s.exec('id -u')).stdout).toBe('0\n');
      expect(await s.exec('cat', { stdin: 'payload\n' })).toEqual({ code: 0, stdout: 'payload\n', stderr: '' });
      expect(await s.exec('cat')).toEqual({ code: 0, stdout: '', stderr: '' });
      const path = join(dir, 'by-password');
      await s.put(path, 'content', { mode: 0o640 });
      expect(readFileSync(path, 'utf8')).toBe('content');
      expect(statSync(path)).toMatchObject({ uid: 0 });
    });
  });

  it('stops at connect when sudo is refused, without revealing the password', async () => {
    const wrong = await refusal(target({ user: withPassword.name, sudo: { password: new Secret('not-it-x9', 'hosts.yaml') } }));
    expect(wrong.step).toBe('sudo');
    expect(wrong.message).toMatch(/^sudo refused the password \(from hosts\.yaml\) for kha\d+p: /);
    expect(`${wrong.message} ${JSON.stringify(wrong)}`).not.toContain('not-it-x9');
    const passwordNeeded = await refusal(target({ user: withPassword.name, sudo: 'nopasswd' }));
    expect(passwordNeeded.message).toMatch(/^sudo -n failed for kha\d+p: sudo: a password is required\./);
  });
});

describe('jump host', { timeout: 60_000 }, () => {
  it('reaches A through B', async () => {
    const jump = target({ name: 'lb-b', port: b.port });
    await withSession(target({ jump }), async (s) => {
      expect((await s.exec('echo via jump')).stdout).toBe('via jump\n');
    });
    expect(b.log()).toContain(`server_request_direct_tcpip: originator 127.0.0.1 port 0, target 127.0.0.1 port ${a.port}`);
  });

  it('checks the far host key against known_hosts too', async () => {
    const onlyA = writeKnownHosts('only_a_known_hosts', [`[127.0.0.1]:${a.port} ${a.hostKeys.ed25519.line}`]);
    const err = await refusal(target({ name: 'lb-b', port: b.port, knownHosts: onlyA, jump: target({ knownHosts: onlyA }) }));
    expect(err).toMatchObject({ host: 'lb-b', step: 'host key' });
    expect(err.message).toContain(b.hostKeys.ed25519.fingerprint);
  });

  it('names the jump host when the far side cannot be reached', async () => {
    const err = await refusal(target({ name: 'lb-b', port: 1, jump: target() }));
    expect(err.message).toMatch(/^cannot reach 127\.0\.0\.1:1 through jump host lb-a: /);
  });
});

/** An ssh-agent in the foreground holding one key, stopped by its handle. */
async function startAgent(key: string): Promise<{ socket: string; stop(): void }> {
  const socket = join(dir, `agent-${Date.now()}.sock`);
  const proc = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  await expect.poll(() => existsSync(socket), { timeout: 5_000 }).toBe(true);
  execFileSync('ssh-add', ['-q', key], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'pipe' });
  return { socket, stop: () => proc.kill('SIGTERM') };
}
