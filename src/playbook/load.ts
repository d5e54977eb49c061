import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import * as z from 'zod';
import { InternalError } from '../errors.js';
import { playbooksDir } from '../paths.js';

// Playbooks are data shipped with kha, so a malformed one is kha's bug, not
// the user's: it fails as an internal error naming the file.

export const HOST_SETS = ['all', 'lb', 'masters', 'operator', 'primary-if-vip-unheld', 'lb-not-holding-vip', 'vip-holder'] as const;
export const GATES = ['holds-vip', 'is-backup'] as const;

const stageSchema = z
  .strictObject({
    name: z.string(),
    tasks: z.array(z.string()).optional(),
    checks: z.array(z.string()).optional(),
    on: z.enum(HOST_SETS),
    serial: z.number().int().min(1).optional(),
    then: z.enum(GATES).optional(),
  })
  .refine((s) => (s.tasks === undefined) !== (s.checks === undefined), { message: 'a stage has either tasks or checks' });

const playbookSchema = z.strictObject({ name: z.string(), stages: z.array(stageSchema).min(1) });

export type Stage = z.output<typeof stageSchema>;
export type Playbook = z.output<typeof playbookSchema>;
export type HostSet = (typeof HOST_SETS)[number];
export type Gate = (typeof GATES)[number];

export function loadPlaybook(name: string, known: { tasks: readonly string[]; checks: readonly string[] }): Playbook {
  const file = join(playbooksDir, `${name}.yaml`);
  const parsed = playbookSchema.safeParse(parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new InternalError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  for (const stage of parsed.data.stages) {
    for (const t of stage.tasks ?? []) if (!known.tasks.includes(t)) throw new InternalError(`${file}: stage '${stage.name}' names unknown task '${t}'`);
    for (const c of stage.checks ?? []) if (!known.checks.includes(c)) throw new InternalError(`${file}: stage '${stage.name}' names unknown check '${c}'`);
  }
  return parsed.data;
}
