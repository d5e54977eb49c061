import type { Command } from 'commander';
import { outputFor, type CliContext } from '../cli.js';
import { proxyMarkedDownMs } from '../drill/drills.js';
import { InputError } from '../errors.js';
import { explain } from '../explain/explain.js';
import { formatExplanation } from '../explain/format.js';
import { requireInventory } from '../inventory/load.js';
import { proxyCheckSettings } from '../inventory/model.js';
import { runInOperatorNetns } from './netns.js';

export function registerExplain(program: Command, ctx: CliContext): void {
  program
    .command('explain')
    .description("what kha chose and what it costs: who is primary and why, what moves the VIP and how fast, the adverts' traffic, and who takes the VIP next now")
    .argument('<hosts.yaml>', 'the inventory file')
    .option('--offline', 'explain from hosts.yaml alone, without reading the load balancers over SSH')
    .option('--json', 'print the explanation as JSON')
    .addHelpText(
      'after',
      '\nChanges nothing. A load balancer that cannot be reached is said, not fatal.\n' +
        'Exit codes: 0 explained, 2 bad input.\n' +
        'Example, before the first apply: kha explain hosts.yaml --offline',
    )
    .action(async (file: string, flags: { offline?: boolean; json?: boolean }) => {
      const inv = await requireInventory(file, ctx.env);
      if (!inv.vip) {
        const proxy =
          inv.nodeProxy?.software === 'nginx'
            ? 'nginx leaves a master out once client connections to it fail (passive checks)'
            : `haproxy stops sending to a silent master after about ${(proxyMarkedDownMs(proxyCheckSettings(inv), 'silent') / 1000).toFixed(1)} s (its checks)`;
        throw new InputError(`${file} lists no load balancer and no VIP: there is no failover to explain. Each host's local proxy is its endpoint: ${proxy}; kha verify-failover ${file} measures it from a node`);
      }
      if (!flags.offline) {
        const inner = await runInOperatorNetns(inv, ctx.argv, ctx.env);
        if (inner !== null) return ctx.exit(inner);
      }
      const out = outputFor(ctx, Boolean(flags.json));
      // Loaded only where the hosts are reachable (see apply.ts).
      const live = flags.offline ? undefined : await (await import('../explain/live.js')).readLiveState(inv);
      const e = explain(inv, live);
      for (const line of formatExplanation(e)) out.line(line);
      out.result({ ok: true, ...e });
    });
}
