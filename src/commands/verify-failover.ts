import type { Command } from 'commander';
import type { CliContext } from '../cli.js';
import { DRILL_NAMES } from '../drill/drills.js';
import { requireInventory } from '../inventory/load.js';
import type { VerifyFlags } from './verify-failover-run.js';
import { runInOperatorNetns } from './netns.js';

export function registerVerifyFailover(program: Command, ctx: CliContext): void {
  program
    .command('verify-failover')
    .description('failover drills against the live load balancers, with measured client outage; always restores')
    .argument('<hosts.yaml>', 'the inventory file')
    .option('--drill <names>', `drills to run, comma-separated (default: all but reboot, which needs --destructive): ${DRILL_NAMES.join(', ')}`, (v: string, prev: string[] = []) => [...prev, ...v.split(',')])
    .option('--report <file.html>', 'write a self-contained HTML report with a timeline per drill')
    .option('--partition-seconds <n>', 'how long the partition drill cuts the holder off (default: drills.partition_seconds, 6)')
    .option('--probe-from <host>', 'also probe the VIP from this host of hosts.yaml over SSH, as a kubelet there would; a node with the local proxy is also the one the drills from a node measure through (default: the first)')
    .option('--destructive', 'also run drills that take a whole host down (reboot of the VIP holder)')
    .option('--json', 'print every drill with its whole timeline as JSON')
    .option(
      '--kubeconfig <file>',
      "also hold a real watch through the VIP with this kubeconfig's credentials (kubectl uses them; kha never reads them): kha creates the ConfigMap default/kha-drill, patches it every 100 ms on each master directly, and deletes it at the end",
    )
    .addHelpText(
      'after',
      '\nDuring each drill a client opens a new TLS connection to VIP:port every 50 ms (connect timeout\n' +
        '200 ms), a client with default TCP settings (SYN retried after 1, 3, 7 s) every 500 ms, and kha\n' +
        'polls every load balancer for the VIP. Before each fault, every host it touches arms a\n' +
        'systemd timer that undoes it on its own (after the hold and 10 s more), so a killed kha or a lost\n' +
        'connection leaves no host broken; kha heals each host after the hold, checks it, and only\n' +
        'then removes its timer. A host it cannot heal is named, with when its timer fires, and no\n' +
        'further drill runs. Ctrl-C (SIGINT), SIGTERM and SIGHUP restore every host before kha exits.\n' +
        'Exit codes: 0 every expectation held, 1 one did not (it is named), a host was not restored,\n' +
        'or SIGTERM/SIGHUP stopped the run; 2 bad input; 130 Ctrl-C.',
    )
    .action(async (file: string, flags: VerifyFlags) => {
      const inv = await requireInventory(file, ctx.env);
      const inner = await runInOperatorNetns(inv, ctx.argv, ctx.env);
      if (inner !== null) return ctx.exit(inner);
      // Loaded only where the hosts are reachable (see apply.ts).
      const { runVerifyFailover } = await import('./verify-failover-run.js');
      await runVerifyFailover(inv, file, flags, ctx);
    });
}
