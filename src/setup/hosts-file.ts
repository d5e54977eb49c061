import { dirname, relative, resolve } from 'node:path';
import { packageRoot, schemaFile } from '../paths.js';
import type { Chosen, PlannedHost, SetupPlan } from './plan.js';

// The hosts.yaml the wizard writes: the schema line for editors, and a
// comment on every choice it made, so that a person reading the file later
// knows what was found and why each value is what it is.

function comment(indent: string, text: string): string[] {
  return text.split('\n').map((l) => `${indent}# ${l}`);
}

function chosen<T>(indent: string, key: string, c: Chosen<T>, show: (v: T) => string = String): string[] {
  return [...comment(indent, c.why), `${indent}${key}: ${show(c.value)}`];
}

function hostLines(h: PlannedHost, indent: string): string[] {
  return [`${indent}- name: ${h.name}`, `${indent}  address: ${h.address}`, ...h.notes.flatMap((n) => comment(`${indent}  `, n))];
}

/** The file as text; `file` is where it will be written (for the schema's relative path). */
export function hostsYamlText(plan: SetupPlan, file: string, when: Date): string {
  // Relative when the file sits inside kha's own tree (as the examples do), else where kha is installed.
  const inside = !relative(packageRoot, resolve(dirname(file))).startsWith('..');
  const schema = inside ? relative(dirname(resolve(file)), schemaFile) : schemaFile;
  const s = plan.ssh;
  const lines = [
    `# yaml-language-server: $schema=${schema}`,
    '#',
    `# Written by kha setup on ${when.toISOString().slice(0, 10)} from what it found on the hosts.`,
    '# Check it: kha validate <this file>; see what apply would do: kha apply <this file> --dry-run',
    'cluster:',
    ...chosen('  ', 'vip', plan.vip, (v) => `${v.address}/${v.prefix}`),
    ...chosen('  ', 'port', plan.port),
    ...(plan.staticPods
      ? [
          'static_pods:',
          ...chosen('  ', 'keepalived_image', plan.staticPods.keepalivedImage),
          ...chosen('  ', 'haproxy_image', plan.staticPods.haproxyImage),
          ...chosen('  ', 'manifests_dir', plan.staticPods.manifestsDir),
        ]
      : []),
    'ssh:',
    `  user: ${s.user}`,
    `  port: ${s.port}`,
    ...(s.identityFile ? [`  identity_file: ${s.identityFile}`] : comment('  ', 'no identity_file: the SSH agent (SSH_AUTH_SOCK) authenticates')),
    `  known_hosts: ${s.knownHosts}`,
  ];
  if (s.sudo) {
    lines.push('  sudo: true');
    if (s.sudoPassword.kind === 'env') lines.push(`  sudo_password: env:${s.sudoPassword.variable}`);
    if (s.sudoPassword.kind === 'literal') lines.push(...comment('  ', 'written in clear as you chose; env:VARIABLE keeps it out of this file'), `  sudo_password: '${s.sudoPassword.value.replaceAll("'", "''")}'`);
  }
  lines.push('keepalived:', ...chosen('  ', 'virtual_router_id', plan.routerId), 'lb:');
  for (const lb of plan.lbs) {
    lines.push(...hostLines(lb, '  '), ...chosen('    ', 'interface', lb.interface), ...chosen('    ', 'priority', lb.priority));
  }
  lines.push('masters:');
  for (const m of plan.masters) lines.push(...hostLines(m, '  '));
  return `${lines.join('\n')}\n`;
}
