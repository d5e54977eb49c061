import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import * as z from 'zod';
import { InternalError } from '../errors.js';
import { playbooksDir } from '../paths.js';
import { roleOfHostSet, rolesWith } from '../role/roles.js';
import type { Role } from '../role/role.js';
import type { Topology } from '../topology/topology.js';

// Playbooks are data shipped with kha, so a malformed one is kha's bug, not
// the user's: it fails as an internal error naming the file. The words a
// playbook may use are its roles' (role/roles.ts): a stage runs on a host set
// of one role and names that role's tasks and gate; checks are the topology's.

/** The host set of the stage that runs on kha's own machine: the final checks, after every host has converged. */
export const OPERATOR = 'operator';

/**
 * `parallel: from-flag`: the stage rolls out over its hosts, --parallel at a
 * time, and starts no new host once more than --max-fail have failed (the
 * rest are reported as not started). For stages over many hosts (the proxy
 * hosts); `serial` is for the few load balancers, whose order matters.
 */
export const FROM_FLAG = 'from-flag';

/** `ssh` is checked while connecting, before facts exist; it is named in playbooks for the reader. */
export const CONNECT_CHECK = 'ssh';

const stageSchema = z
  .strictObject({
    name: z.string(),
    tasks: z.array(z.string()).optional(),
    checks: z.array(z.string()).optional(),
    on: z.string(),
    serial: z.number().int().min(1).optional(),
    parallel: z.literal(FROM_FLAG).optional(),
    then: z.string().optional(),
  })
  .refine((s) => (s.tasks === undefined) !== (s.checks === undefined), { message: 'a stage has either tasks or checks' })
  .refine((s) => s.serial === undefined || s.parallel === undefined, { message: 'a stage has serial or parallel, not both' });

const playbookSchema = z.strictObject({ name: z.string(), stages: z.array(stageSchema).min(1) });

export type Stage = z.output<typeof stageSchema>;
export type Playbook = z.output<typeof playbookSchema>;

function unknownWords(stage: Stage, topology: Topology, roles: readonly Role[]): string[] {
  const checks = stage.on === OPERATOR ? [...topology.finalChecks.keys()] : [CONNECT_CHECK, ...topology.checks.keys()];
  const role = roleOfHostSet(roles, stage.on);
  return [
    ...(stage.tasks ?? []).filter((t) => !role?.tasks.has(t)).map((t) => `task '${t}'`),
    ...(stage.checks ?? []).filter((c) => !checks.includes(c)).map((c) => `check '${c}'`),
    ...(stage.on === OPERATOR || role ? [] : [`host set '${stage.on}'`]),
    ...(stage.then === undefined || role?.gates.has(stage.then) ? [] : [`gate '${stage.then}'`]),
  ];
}

/** A host set two roles both claim would make a stage's role ambiguous: kha's bug, found at load. */
function sharedWords(roles: readonly Role[]): string[] {
  const words = roles.flatMap((r) => [...r.hostSets.keys()]);
  return words.filter((w, i) => w === OPERATOR || words.indexOf(w) !== i);
}

export function loadPlaybook(topology: Topology): Playbook {
  const file = join(playbooksDir, `${topology.playbook}.yaml`);
  const roles = rolesWith(topology);
  const [shared] = sharedWords(roles);
  if (shared !== undefined) throw new InternalError(`host set '${shared}' is claimed twice (roles: ${roles.map((r) => r.name).join(', ')})`);
  const parsed = playbookSchema.safeParse(parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new InternalError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  for (const stage of parsed.data.stages) {
    const [first] = unknownWords(stage, topology, roles);
    if (first !== undefined) throw new InternalError(`${file}: stage '${stage.name}' names unknown ${first}`);
  }
  return parsed.data;
}
