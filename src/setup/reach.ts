import { KhaError } from '../errors.js';
import { KnownHosts } from '../transport/known-hosts.js';
import { refusalMessage } from '../transport/host-key.js';
import type { PresentedKey } from '../transport/host-key-scan.js';
import type { Session } from '../transport/session.js';
import type { ConnectResult, SshTarget } from '../transport/ssh.js';
import { expandHome } from '../transport/private-key.js';
import type { Prompter } from './prompter.js';

// Reaching each host the wizard was given: its host key trusted only on a
// person's yes (a changed key never), then an SSH session. When a host
// cannot be reached the person chooses: fix the answer, skip the host, or
// stop. Nothing is trusted silently, whatever the flags.

export interface ReachDeps {
  prompt: Prompter;
  say(line: string): void;
  hostKey(name: string, address: string, port: number): Promise<PresentedKey>;
  trust(knownHosts: string, address: string, port: number, key: PresentedKey): Promise<void>;
  connect(targets: readonly SshTarget[]): Promise<ConnectResult[]>;
}

/** The person chose to stop: nothing was written. Exit 1. */
export class SetupStopped extends KhaError {
  readonly exitCode = 1 as const;
  constructor(why: string) {
    super(`${why}; nothing was written`);
    this.name = 'SetupStopped';
  }
}

type Remedy = 'fix' | 'skip' | 'stop';

async function remedy(prompt: Prompter, host: string, problem: string): Promise<Remedy> {
  return prompt.select<Remedy>({
    message: `${host}: ${problem}\nWhat now?`,
    choices: [
      { value: 'fix', name: 'fix the address' },
      { value: 'skip', name: `skip ${host} (it will not be in hosts.yaml)` },
      { value: 'stop', name: 'stop (nothing is written)' },
    ],
  });
}

/** The host's key is in known_hosts, or a person said yes to it here; a refusal says why. */
async function trusted(deps: ReachDeps, t: SshTarget): Promise<string | undefined> {
  let key: PresentedKey;
  try {
    key = await deps.hostKey(t.name, t.address, t.port);
  } catch (e) {
    return (e as Error).message;
  }
  const known = await KnownHosts.load(expandHome(t.knownHosts));
  const verdict = known.check(t.address, t.port, key.blob);
  if (verdict.kind === 'match') return undefined;
  if (verdict.kind !== 'unknown') return refusalMessage(verdict, known, t.name, t.address, t.port);
  const yes = await deps.prompt.confirm({
    message: `${t.name} (${t.address}:${t.port}) is not in ${t.knownHosts}. It presents ${key.type} ${key.fingerprint}. Is that its key? (compare: ssh-keygen -lf /etc/ssh/ssh_host_${key.type.replace(/^ssh-|-sha2-nistp\d+$/g, '')}_key.pub on the host)`,
    default: false,
  });
  if (!yes) return `its host key ${key.fingerprint} was not trusted`;
  await deps.trust(t.knownHosts, t.address, t.port, key);
  deps.say(`  added ${t.name}'s ${key.type} key to ${t.knownHosts}`);
  return undefined;
}

/**
 * Sessions for every target that could be reached; a target whose address
 * was fixed is returned with its new address. Throws SetupStopped on stop.
 */
export async function reach(
  deps: ReachDeps,
  targets: readonly SshTarget[],
  fixAddress: (t: SshTarget) => Promise<string>,
): Promise<{ sessions: Map<string, Session>; targets: SshTarget[] }> {
  const sessions = new Map<string, Session>();
  const done: SshTarget[] = [];
  try {
    for (let t of targets) {
      for (;;) {
        const refused = await trusted(deps, t);
        let problem = refused;
        if (!refused) {
          const [r] = await deps.connect([t]);
          if (r?.session) {
            sessions.set(t.name, r.session);
            done.push(t);
            deps.say(`  ${t.name} ${t.address}: connected`);
            break;
          }
          problem = r?.error?.message ?? 'no connection';
        }
        const choice = await remedy(deps.prompt, t.name, problem ?? 'unreachable');
        if (choice === 'stop') throw new SetupStopped(`stopped at ${t.name}: ${problem}`);
        if (choice === 'skip') break;
        t = { ...t, address: await fixAddress(t) };
      }
    }
    return { sessions, targets: done };
  } catch (e) {
    await Promise.allSettled([...sessions.values()].map((s) => s.close()));
    throw e;
  }
}
