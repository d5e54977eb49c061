import { PreflightError, type KhaError } from '../errors.js';
import { gatherFacts } from '../facts/gather.js';
import type { HostFacts } from '../facts/types.js';
import type { Inventory } from '../inventory/model.js';
import type { HostPlan } from '../plan/plan.js';
import { planRoles, probeFor } from '../role/roles.js';
import { OPERATOR, type Playbook } from '../playbook/load.js';
import type { PreflightProblem } from '../preflight/checks.js';
import type { PassphrasePrompt } from '../transport/private-key.js';
import type { Session } from '../transport/session.js';
import { connectAll } from '../transport/ssh.js';
import { topologyOf } from '../topology/of.js';
import type { SshTarget } from '../transport/ssh.js';
import { lbTargets } from './targets.js';

// The phases of apply before anything changes: connect, look, check, plan.
// Each phase covers every host before the next starts, and any failure ends
// the run with nothing changed anywhere.

/** One session per target (the load balancers unless told: apply passes targets.ts applyTargets); any that fails ends it with nothing changed. */
export async function openSessions(inv: Inventory, passphrase?: PassphrasePrompt, targets: SshTarget[] = lbTargets(inv, passphrase)): Promise<Map<string, Session>> {
  const results = await connectAll(targets);
  const failed = results.filter((r): r is { target: (typeof r)['target']; error: KhaError } => r.error !== undefined);
  const sessions = new Map<string, Session>();
  for (const r of results) if (r.session) sessions.set(r.target.name, r.session);
  if (failed.length > 0) {
    await closeAll(sessions);
    throw new PreflightError(failed.map((r) => ({ host: r.target.name, check: 'ssh', message: r.error.message })));
  }
  return sessions;
}

export async function closeAll(sessions: ReadonlyMap<string, Session>): Promise<void> {
  await Promise.allSettled([...sessions.values()].map((s) => s.close()));
}

/** Facts of every connected host, each probed for the roles it has. */
export async function gatherAll(inv: Inventory, sessions: ReadonlyMap<string, Session>): Promise<Map<string, HostFacts>> {
  const entries = await Promise.all([...sessions].map(async ([name, session]) => [name, await gatherFacts(session, probeFor(inv, name))] as const));
  return new Map(entries);
}

/** Every finding of the named checks, problems and warnings alike (kha setup shows them; apply stops on problems). */
export async function runChecks(
  inv: Inventory,
  facts: ReadonlyMap<string, HostFacts>,
  sessions: ReadonlyMap<string, Session>,
  names: readonly string[],
): Promise<PreflightProblem[]> {
  const { checks } = topologyOf(inv);
  const found: PreflightProblem[] = [];
  for (const name of names) {
    const check = checks.get(name);
    if (check) found.push(...(await check.run({ inv, facts, sessions })));
  }
  return found;
}

/** Runs the playbook's checks; throws when any found a problem, else returns the warnings (checks that could not run). */
export async function preflight(
  inv: Inventory,
  facts: ReadonlyMap<string, HostFacts>,
  sessions: ReadonlyMap<string, Session>,
  playbook: Playbook,
): Promise<PreflightProblem[]> {
  const names = playbook.stages.filter((s) => s.on !== OPERATOR).flatMap((s) => s.checks ?? []);
  const found = await runChecks(inv, facts, sessions, names);
  const problems = found.filter((p) => !p.warning);
  if (problems.length > 0) throw new PreflightError(problems);
  return found;
}

/** Every task of the playbook on every host in scope (each for the roles it has), from the facts as they are now. */
export function planAll(inv: Inventory, facts: ReadonlyMap<string, HostFacts>, playbook: Playbook, scope: ReadonlySet<string>): HostPlan[] {
  const seen = new Set<string>();
  const tasks = playbook.stages.flatMap((s) => s.tasks ?? []).filter((t) => !seen.has(t) && seen.add(t));
  return [...facts.keys()].filter((name) => scope.has(name)).map((name) => planRoles(inv, name, facts.get(name)!, tasks));
}
