import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import * as z from 'zod';
import { InternalError } from '../errors.js';
import { playbooksDir } from '../paths.js';
import type { Topology } from '../topology/topology.js';

// Playbooks are data shipped with kha, so a malformed one is kha's bug, not
// the user's: it fails as an internal error naming the file. The words a
// playbook may use (tasks, checks, host sets, gates) are its topology's.

/** The host set of the stage that runs on kha's own machine: the final checks, after every host has converged. */
export const OPERATOR = 'operator';

/** `ssh` is checked while connecting, before facts exist; it is named in playbooks for the reader. */
export const CONNECT_CHECK = 'ssh';

const stageSchema = z
  .strictObject({
    name: z.string(),
    tasks: z.array(z.string()).optional(),
    checks: z.array(z.string()).optional(),
    on: z.string(),
    serial: z.number().int().min(1).optional(),
    then: z.string().optional(),
  })
  .refine((s) => (s.tasks === undefined) !== (s.checks === undefined), { message: 'a stage has either tasks or checks' });

const playbookSchema = z.strictObject({ name: z.string(), stages: z.array(stageSchema).min(1) });

export type Stage = z.output<typeof stageSchema>;
export type Playbook = z.output<typeof playbookSchema>;

function unknownWords(stage: Stage, topology: Topology): string[] {
  const checks = stage.on === OPERATOR ? [...topology.finalChecks.keys()] : [CONNECT_CHECK, ...topology.checks.keys()];
  const hostSets = [OPERATOR, ...topology.hostSets.keys()];
  return [
    ...(stage.tasks ?? []).filter((t) => !topology.tasks.has(t)).map((t) => `task '${t}'`),
    ...(stage.checks ?? []).filter((c) => !checks.includes(c)).map((c) => `check '${c}'`),
    ...(hostSets.includes(stage.on) ? [] : [`host set '${stage.on}'`]),
    ...(stage.then === undefined || topology.gates.has(stage.then) ? [] : [`gate '${stage.then}'`]),
  ];
}

export function loadPlaybook(topology: Topology): Playbook {
  const file = join(playbooksDir, `${topology.playbook}.yaml`);
  const parsed = playbookSchema.safeParse(parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new InternalError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  for (const stage of parsed.data.stages) {
    const [first] = unknownWords(stage, topology);
    if (first !== undefined) throw new InternalError(`${file}: stage '${stage.name}' names unknown ${first}`);
  }
  return parsed.data;
}
