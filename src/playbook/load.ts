import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import * as z from 'zod';
import { InternalError } from '../errors.js';
import { playbooksDir } from '../paths.js';
import { PROXY_GATE } from '../node-proxy/gate.js';
import { NODE_PROXY_TASKS } from '../node-proxy/tasks.js';
import type { Topology } from '../topology/topology.js';

// Playbooks are data shipped with kha, so a malformed one is kha's bug, not
// the user's: it fails as an internal error naming the file. The words a
// playbook may use (tasks, checks, host sets, gates) are its topology's.

/** The host set of the stage that runs on kha's own machine: the final checks, after every host has converged. */
export const OPERATOR = 'operator';

/**
 * The host set of the local proxy's stage (docs/node-proxy.md): every host
 * that gets the proxy (topology/roles.ts proxyHosts). The proxy is a role
 * beside any topology, so its words (this, its tasks, its gate) are kha's,
 * valid in every playbook.
 */
export const PROXY_HOSTS = 'proxy-hosts';

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

function unknownWords(stage: Stage, topology: Topology): string[] {
  const checks = stage.on === OPERATOR ? [...topology.finalChecks.keys()] : [CONNECT_CHECK, ...topology.checks.keys()];
  const hostSets = [OPERATOR, PROXY_HOSTS, ...topology.hostSets.keys()];
  // A stage on the proxy hosts names the proxy's tasks and gate; any other, its topology's.
  const proxy = stage.on === PROXY_HOSTS;
  const task = (t: string) => (proxy ? NODE_PROXY_TASKS.has(t) : topology.tasks.has(t));
  const gate = (g: string) => (proxy ? g === PROXY_GATE : topology.gates.has(g));
  return [
    ...(stage.tasks ?? []).filter((t) => !task(t)).map((t) => `task '${t}'`),
    ...(stage.checks ?? []).filter((c) => !checks.includes(c)).map((c) => `check '${c}'`),
    ...(hostSets.includes(stage.on) ? [] : [`host set '${stage.on}'`]),
    ...(stage.then === undefined || gate(stage.then) ? [] : [`gate '${stage.then}'`]),
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
