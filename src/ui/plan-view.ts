import type { Inventory } from '../inventory/model.js';
import { describeChange } from '../plan/changes.js';
import { fileDiff } from '../plan/diff.js';
import type { HostPlan } from '../plan/plan.js';
import type { Secret } from '../secret.js';
import { hostRoles } from '../topology/roles.js';
import { HOST_LINES_MAX } from './apply-lines.js';

// The plan as a person reads it, Terraform-style: per host, per task, what
// would change; with --dry-run, the unified diff of every file below it.

/** A host's heading: what it is to the endpoint, and whether it gets the local proxy. */
function heading(inv: Inventory, name: string): string {
  const { lb, proxy } = hostRoles(inv, name);
  const roles = [
    ...(lb ? [`${lb.primary ? 'primary' : 'backup'}, priority ${lb.priority}`] : []),
    ...(proxy ? [`${proxy.kind}, local proxy ${inv.nodeProxy!.software} on 127.0.0.1:${inv.nodeProxy!.port}`] : []),
  ];
  return `${name} (${roles.join('; ')}, ${(lb ?? proxy)!.address})`;
}

const unchanged = (p: HostPlan) => p.tasks.every((t) => t.changes.length === 0);

export function formatPlan(inv: Inventory, plans: readonly HostPlan[], opts: { diffs: boolean; secrets: readonly Secret[] }): string {
  const lines: string[] = [];
  // Many nodes with nothing to change are one line, not a block each.
  const quiet = plans.filter((p) => unchanged(p) && hostRoles(inv, p.host).lb === undefined);
  const collapse = quiet.length > HOST_LINES_MAX ? new Set(quiet.map((p) => p.host)) : new Set<string>();
  for (const plan of plans) {
    if (collapse.has(plan.host)) continue;
    lines.push(heading(inv, plan.host));
    const width = Math.max(...plan.tasks.map((t) => t.task.length));
    for (const t of plan.tasks) {
      if (t.changes.length === 0) {
        lines.push(`  ${t.task.padEnd(width)}  ok`);
        continue;
      }
      t.changes.forEach((c, i) => lines.push(`  ${(i === 0 ? t.task : '').padEnd(width)}  ~ ${describeChange(c)}`));
    }
    if (opts.diffs) {
      for (const t of plan.tasks) {
        for (const c of t.changes) {
          if (c.kind !== 'file.write' || c.modeOnly) continue;
          lines.push('', ...fileDiff(c, opts.secrets).trimEnd().split('\n').map((l) => `    ${l}`));
        }
      }
    }
    lines.push('');
  }
  if (collapse.size > 0) lines.push(`${collapse.size} nodes with nothing to change: ${[...collapse].join(', ')}`, '');
  const total = plans.reduce((n, p) => n + p.tasks.reduce((m, t) => m + t.changes.length, 0), 0);
  lines.push(total === 0 ? 'No changes: every host is as hosts.yaml describes.' : `Plan: ${total} change${total === 1 ? '' : 's'} on ${plans.filter((p) => p.tasks.some((t) => t.changes.length)).length} host(s).`);
  return lines.join('\n');
}

/** Secrets kha knows for this inventory, for redaction. */
export function inventorySecrets(inv: Inventory): Secret[] {
  const out: Secret[] = [];
  if (inv.keepalived.authPass) out.push(inv.keepalived.authPass);
  for (const h of [...inv.lbs, ...inv.masters]) if (h.ssh.sudoPassword) out.push(h.ssh.sudoPassword);
  return out;
}
