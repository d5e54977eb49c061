// A real OpenSSH server on a loopback port for the transport tests, with its
// own host keys and authorized_keys, and throwaway sudo users.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { alive, makeKey, type TestKey } from './keys.js';

const SSHD = '/usr/sbin/sshd';

/** Fails (never skips) when this machine cannot run the real-sshd tests. */
export function requireSshd(): void {
  if (!existsSync(SSHD)) {
    throw new Error(`${SSHD} is missing: install it with \`apt-get install -y openssh-server sudo\``);
  }
  if (process.getuid?.() !== 0) throw new Error('the real-sshd transport tests must run as root');
  // sshd refuses to start without its privilege separation directory.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
}

export interface Sshd {
  port: number;
  hostKeys: { ed25519: TestKey; ecdsa: TestKey; rsa: TestKey };
  /** Everything sshd wrote on stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

/** `DEBUG1` logs direct-tcpip requests but also leaks debug lines into sessions' stderr. */
export async function startSshd(dir: string, name: string, authorizedKeysDir: string, logLevel = 'VERBOSE'): Promise<Sshd> {
  const hostKeys = {
    ed25519: makeKey(dir, `${name}_host_ed25519`, ['-t', 'ed25519']),
    ecdsa: makeKey(dir, `${name}_host_ecdsa`, ['-t', 'ecdsa', '-b', '256']),
    rsa: makeKey(dir, `${name}_host_rsa`, ['-t', 'rsa', '-b', '2048']),
  };
  const config = join(dir, `${name}_sshd_config`);
  writeFileSync(
    config,
    [
      ...Object.values(hostKeys).map((k) => `HostKey ${k.privatePath}`),
      `AuthorizedKeysFile ${authorizedKeysDir}/%u`,
      'PidFile none',
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      `LogLevel ${logLevel}`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const proc = spawn(SSHD, ['-D', '-e', '-p', String(port), '-o', 'ListenAddress=127.0.0.1', '-f', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  await listening(proc, () => log, port);
  return {
    port,
    hostKeys,
    log: () => log,
    stop: () => stop(proc),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function listening(proc: ChildProcess, log: () => string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => fail(new Error(`sshd did not listen on port ${port} within 10 s:\n${log()}`)), 10_000);
    const poll = setInterval(() => {
      if (log().includes(`Server listening on 127.0.0.1 port ${port}`)) done();
    }, 20);
    const onExit = (code: number | null) => fail(new Error(`sshd exited with ${code}:\n${log()}`));
    proc.once('exit', onExit);
    function done() {
      clearTimeout(deadline);
      clearInterval(poll);
      proc.off('exit', onExit);
      resolve();
    }
    function fail(err: Error) {
      clearTimeout(deadline);
      clearInterval(poll);
      proc.kill('SIGKILL');
      reject(err);
    }
  });
}

function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}

/**
 * A local user for the sudo tests, removed by `remove()`. The name carries
 * this process's pid so that concurrent runs on one machine do not share
 * users; users left by runs that died are removed first.
 */
export interface TestUser {
  name: string;
  remove(): void;
}

const TEST_USER = /^kha(\d+)[a-z]:/;

export function createSudoUser(suffix: string, home: string, password: string, sudoersRule: (user: string) => string): TestUser {
  removeStaleUsers();
  const name = `kha${process.pid}${suffix}`;
  execFileSync('useradd', ['--create-home', '--home-dir', home, '--shell', '/bin/sh', name], { stdio: 'pipe' });
  execFileSync('chpasswd', { input: `${name}:${password}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
  const sudoersFile = `/etc/sudoers.d/${name}`;
  writeFileSync(sudoersFile, `${sudoersRule(name)}\n`, { mode: 0o440 });
  execFileSync('visudo', ['-c', '-q', '-f', sudoersFile], { stdio: 'pipe' });
  return { name, remove: () => removeUser(name) };
}

function removeStaleUsers(): void {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const m = TEST_USER.exec(line);
    if (m && !alive(Number(m[1]))) removeUser(line.slice(0, line.indexOf(':')));
  }
}

function removeUser(name: string): void {
  rmSync(`/etc/sudoers.d/${name}`, { force: true });
  try {
    execFileSync('userdel', ['-r', name], { stdio: 'pipe' });
  } catch {
    // Already gone.
  }
}
