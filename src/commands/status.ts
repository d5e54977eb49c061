import type { Command } from 'commander';
import { outputFor, type CliContext } from '../cli.js';
import { requireInventory } from '../inventory/load.js';
import { runInOperatorNetns } from './netns.js';

export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('who holds the VIP, keepalived and haproxy state per load balancer, backend health, drift, certificate SANs')
    .argument('<hosts.yaml>', 'the inventory file')
    .option('--json', 'print the status as JSON')
    .addHelpText('after', '\nChanges nothing. Exit codes: 0 healthy, 1 degraded (each problem is listed), 2 bad input.')
    .action(async (file: string, flags: { json?: boolean }) => {
      const inv = await requireInventory(file, ctx.env);
      const inner = await runInOperatorNetns(inv, ctx.argv, ctx.env);
      if (inner !== null) return ctx.exit(inner);
      const out = outputFor(ctx, Boolean(flags.json));
      // Loaded only where the hosts are reachable (see apply.ts).
      const { collectStatus } = await import('../status/collect.js');
      const st = await collectStatus(inv);
      if (st.holders.length > 1) out.line(`!!! SPLIT BRAIN: ${st.holders.join(', ')} all hold the VIP ${inv.vip.address} !!!\n`);
      out.line(`VIP ${st.vip}: ${st.holders.length === 1 ? `held by ${st.holders[0]}` : st.holders.length === 0 ? 'held by nobody' : `held by ${st.holders.join(' and ')}`}`);
      out.line('');
      const rows = st.lbs.map((s) => [
        s.host,
        s.error ? 'unreachable' : s.vrrp,
        s.error ? '-' : `${s.effectivePriority}/${s.priority}`,
        s.services.keepalived ?? '-',
        s.services.haproxy ?? '-',
        s.backends.map((b) => `${b.server}:${b.status}`).join(' ') || '-',
        s.drift.length ? `${s.drift.length} to apply` : s.error ? '-' : 'none',
      ]);
      const head = ['host', 'vrrp', 'priority', 'keepalived', 'haproxy', 'backends', 'drift'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [head, ...rows]) out.line(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
      for (const s of st.lbs) for (const d of s.drift) out.line(`  ${s.host}: would ${d}`);
      out.line('');
      const c = st.certificate;
      if (!c.error) out.line(`certificate through the VIP: CN=${c.subject}, SANs ${[...c.sans.ip, ...c.sans.dns].join(', ') || 'none'}`);
      if (c.advice) out.line(c.advice);
      out.line('');
      out.line(st.healthy ? 'healthy' : `degraded:\n${st.problems.map((p) => `  - ${p}`).join('\n')}`);
      out.result({ ...st });
      ctx.exit(st.healthy ? 0 : 1);
    });
}
