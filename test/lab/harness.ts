import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/model.js';
import { CONTROLLER_NS, labDirs, labFiles } from '../../src/lab/state.js';
import { packageRoot } from '../../src/paths.js';

// What the lab tests share: kha as a user runs it, and a command on a lab
// machine over the same SSH a user would use.

export const KHA = join(packageRoot, 'bin', 'kha.js');
export const CI_ENV = { ...process.env, CI: '1' };

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function runKha(args: string[], env: NodeJS.ProcessEnv = CI_ENV, timeoutMs = 900_000): Run {
  const r = spawnSync(process.execPath, [KHA, ...args], { env, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** kha on the lab's hosts.yaml (given last, as a user types it), its time on the test's log: the figures the lab tests report. */
export function timedKha(args: string[], hostsYaml: string): Run & { seconds: number } {
  const t0 = Date.now();
  const r = runKha([...args, hostsYaml]);
  const seconds = (Date.now() - t0) / 1000;
  console.log(`kha ${args.join(' ')}: ${seconds.toFixed(1)} s`);
  return { ...r, seconds };
}

/** A host's IPv4 addresses but lo's, where the release script parks the VIP a moment after it left (not a holder). */
export const NOT_LO = "ip -o -4 addr show | grep -v '^[0-9]*: lo '";

/** A command on a lab machine as root; throws with its stderr when it fails. */
export function onHost(address: string, command: string): string {
  const files = labFiles(labDirs(process.env));
  const r = spawnSync(
    'ip',
    ['netns', 'exec', CONTROLLER_NS, 'ssh', '-i', files.key, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${files.knownHosts}`, `root@${address}`, command],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (r.status !== 0) throw new Error(`${address}: ${command}: ${r.stderr}`);
  return r.stdout;
}

/**
 * A shell loop on the operator's side (the controller's netns), its stamped lines written straight to a file.
 * Not to a pipe read by this process: a synchronous kha call blocks it, nothing drains the pipe meanwhile, and
 * once full it stalls the loop and so its stamps (a watch seemed stuck for 19 s while a file written beside it,
 * and the packets, showed its events arriving every 100 ms).
 */
export function controllerLoop(script: string): { stop(): string } {
  const dir = mkdtempSync(join(tmpdir(), 'kha-loop-'));
  const file = join(dir, 'out');
  const fd = openSync(file, 'w');
  // A group of its own, so that stopping it ends the curls it started too; and it ends itself with this process
  // (a pipe's reader would have ended it: a file keeps no one waiting).
  const watchdog = `( while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -KILL 0 ) &`;
  const child = spawn('ip', ['netns', 'exec', CONTROLLER_NS, 'bash', '-c', `${watchdog}\n${script}`], { stdio: ['ignore', fd, 'ignore'], detached: true });
  closeSync(fd);
  let out: string | undefined;
  return {
    stop() {
      if (out !== undefined) return out;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the loop had ended already
      }
      out = readFileSync(file, 'utf8');
      rmSync(dir, { recursive: true, force: true });
      return out;
    },
  };
}

export function inventoryOf(file: string): Inventory {
  const r = parseInventory(readFileSync(file, 'utf8'), file, process.env);
  if (!r.ok) throw new Error(`${file} is invalid`);
  return r.inventory;
}
