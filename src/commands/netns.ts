import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { InputError, type ExitCode } from '../errors.js';
import type { Inventory } from '../inventory/model.js';
import { INTERRUPT_SIGNALS, onInterrupt } from './signals.js';

// hosts.yaml's `operator.netns` (the built-in lab sets it) means kha's
// network side must run inside that namespace: SSH, the probes through the
// VIP. kha re-runs itself there, once, with the same arguments.

const MARK = 'KHA_OPERATOR_NETNS';

/** null when already in place; otherwise the exit code of kha run inside the namespace. */
export async function runInOperatorNetns(inv: Inventory, argv: readonly string[], env: NodeJS.ProcessEnv): Promise<ExitCode | null> {
  const ns = inv.operatorNetns;
  if (ns === undefined || env[MARK] === ns) return null;
  if (!existsSync(`/run/netns/${ns}`)) {
    throw new InputError(`${inv.file}: operator.netns '${ns}' does not exist on this machine; is the lab up? (kha lab up)`);
  }
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...argv.slice(1)], {
    stdio: 'inherit',
    env: { ...env, [MARK]: ns },
  });
  // Ctrl-C on a terminal reaches both processes; a signal sent to this one
  // alone (a supervisor, a CI job cancelled, a test) must reach kha too, so
  // that it restores what it changed. So each is forwarded, and kha treats
  // two interrupts within a moment as one.
  const stopForwarding = onInterrupt((signal) => child.kill(signal));
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (c, signal) => resolve(c ?? (signal !== null && (INTERRUPT_SIGNALS as readonly string[]).includes(signal) ? 130 : 1)));
    });
    return (code === 0 || code === 1 || code === 2 || code === 130 ? code : 1) as ExitCode;
  } finally {
    stopForwarding();
  }
}
