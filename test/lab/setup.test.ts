import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labUp } from '../../src/lab/lifecycle.js';
import { CONTROLLER_NS, labDirs, labFiles } from '../../src/lab/state.js';
import { packageRoot } from '../../src/paths.js';

// kha setup as a person uses it: in a real terminal (tmux), answering each
// question as it appears on the screen, against the lab's machines from
// nothing, until a hosts.yaml on which apply and the drills pass.

const KHA = join(packageRoot, 'bin', 'kha.js');
const SESSION = 'kha-setup-test';
const env = { ...process.env, CI: '1' };
const dirs = labDirs(process.env);
const files = labFiles(dirs);
const file = join(dirs.lab, 'setup.yaml');
const knownHosts = join(dirs.lab, 'setup_known_hosts');

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const screen = () => tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', SESSION);

/** Waits until the screen shows `text`, then types `keys` (tmux key names: Enter, Down, C-c). */
async function answer(text: string | RegExp, ...keys: string[]): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const now = screen();
    if (typeof text === 'string' ? now.includes(text) : text.test(now)) break;
    if (Date.now() > until) throw new Error(`waited 60 s for ${String(text)}; the screen:\n${now}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const k of keys) tmux('send-keys', '-t', SESSION, ...(k.startsWith('literal:') ? ['-l', k.slice(8)] : [k]));
}

function inController(args: string[]) {
  const r = spawnSync('ip', ['netns', 'exec', CONTROLLER_NS, process.execPath, KHA, ...args], { env, encoding: 'utf8', timeout: 600_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the lab tests need root');
  await labDown(process.env, () => undefined);
  await labUp({ lbs: 2, masters: 3, workers: 0 }, process.env, () => undefined);
}, 1_200_000);

afterAll(async () => {
  spawnSync('tmux', ['kill-session', '-t', SESSION]);
  await labDown(process.env, () => undefined);
}, 300_000);

/** Runs kha setup in tmux from an empty known_hosts, answering every question; `write` answers the last one. */
async function driveSetup(write: 'Enter' | 'n'): Promise<string> {
  writeFileSync(knownHosts, '');
  spawnSync('tmux', ['kill-session', '-t', SESSION]);
  // The lab's addresses exist only in its controller namespace: kha runs there, as an operator on that network would.
  tmux('new-session', '-d', '-s', SESSION, '-x', '220', '-y', '60', `ip netns exec ${CONTROLLER_NS} ${process.execPath} ${KHA} setup ${file}; echo "kha exited $?"; sleep 600`);
  await answer('What should kha build?', 'Enter');
  await answer('Addresses of the load balancers', 'literal:10.77.0.11 10.77.0.12', 'Enter');
  await answer('more load balancers (2 so far', 'Enter');
  await answer('Addresses of the masters', 'literal:10.77.0.21 10.77.0.22 10.77.0.23', 'Enter');
  await answer('more masters (3 so far', 'Enter');
  await answer('SSH user on the hosts', 'Enter');
  await answer('SSH port', 'Enter');
  await answer('SSH private key', 'literal:' + files.key, 'Enter');
  await answer('known_hosts file', 'literal:' + knownHosts, 'Enter');
  await answer(/lb1 \(10\.77\.0\.11:22\) is not in .* It presents ssh-ed25519 SHA256:/s, 'literal:y', 'Enter');
  await answer(/lb2 \(10\.77\.0\.12:22\) is not in/, 'literal:y', 'Enter');
  await answer('Which one should hold the VIP normally', 'Enter');
  await answer(/Virtual IP for the endpoint \(in 10\.77\.0\.0\/24; 10\.77\.0\.254 did not answer ARP\)/, 'Enter');
  await answer(/Write .*setup\.yaml( anyway)?\?/, write);
  await answer(/kha exited \d+/);
  return screen();
}

function onLb2(command: string): void {
  const r = spawnSync('ip', ['netns', 'exec', CONTROLLER_NS, 'ssh', '-i', files.key, '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${files.knownHosts}`, 'root@10.77.0.12', command], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`lb2: ${command}: ${r.stderr}`);
}

describe('kha setup in a real terminal, against the lab', () => {
  it('VRRP dropped between the load balancers: said before anything is written, with the direction', async () => {
    onLb2('DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables >/dev/null');
    onLb2("nft add table inet khatest && nft add chain inet khatest input '{ type filter hook input priority 0; }' && nft add rule inet khatest input ip protocol 112 drop");
    try {
      const shown = await driveSetup('Enter');
      expect(shown).toMatch(/apply would stop here: lb2 \[vrrp-path\]: lb1 → lb2 \(lb2 → lb1 works\)/);
      expect(shown).toContain('Nothing written.');
      expect(shown).toContain('kha exited 1');
      expect(existsSync(file)).toBe(false);
    } finally {
      onLb2('nft delete table inet khatest');
    }
  });

  it('from nothing to a hosts.yaml that apply and the drills take as it is', async () => {
    const shown = await driveSetup('Enter');
    expect(shown, shown).toContain('kha exited 0');
    expect(shown).toContain('found on lb1: eth0 10.77.0.11/24, Debian GNU/Linux 12 (bookworm)');
    expect(shown).toContain('lb1 is the primary: priority 150, the highest');
    expect(shown).not.toContain('apply would stop here');
    expect(existsSync(file)).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^# yaml-language-server: \$schema=/);
    expect(text).toContain('vip: 10.77.0.254/24');
    expect(readFileSync(knownHosts, 'utf8').trim().split('\n')).toHaveLength(2);
    const applied = inController(['apply', '--yes', file]);
    expect(applied.code, `${applied.stdout}\n${applied.stderr}`).toBe(0);
    expect(applied.stdout).toContain('every master reached');
    const drills = inController(['verify-failover', '--drill', 'keepalived-stop', '--drill', 'haproxy-down', file]);
    expect(drills.code, drills.stdout).toBe(0);
  });
});
