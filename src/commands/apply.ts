import type { Command } from 'commander';
import type { CliContext } from '../cli.js';
import { requireInventory } from '../inventory/load.js';
import type { ApplyFlags } from './apply-run.js';
import { runInOperatorNetns } from './netns.js';

export function registerApply(program: Command, ctx: CliContext): void {
  program
    .command('apply')
    .description('converge every load balancer (install, configure, start in the safe order, verify through the VIP), then the local proxy on every node')
    .argument('<hosts.yaml>', 'the inventory file')
    .option('--dry-run', 'print the plan and the diff of every file, change nothing')
    .option('--limit <hosts>', 'change only these hosts (comma-separated; repeatable)', (v: string, prev: string[] = []) => [...prev, ...v.split(',')])
    .option('-y, --yes', 'do not ask before changing hosts that are serving')
    .option('--parallel <n>', 'nodes whose local proxy is converged at once (default 10)')
    .option('--max-fail <n>', 'failed nodes tolerated before no new node starts: a number or a percentage (default 0)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nOrder (playbooks/apply.yaml): preflight every host; prepare all load balancers in parallel\n' +
        '(packages, SELinux, firewall, files validated before they are swapped in); start the primary and\n' +
        'wait for the VIP; then each backup, one at a time; on a running cluster the VIP holder goes last.\n' +
        'Then the local proxy on every node (nodes: in hosts.yaml), --parallel at a time; once more than\n' +
        '--max-fail nodes have failed, no new node starts and the summary lists those not started.\n' +
        'A second run changes nothing and restarts nothing.\n' +
        'Exit codes: 0 converged and verified, 1 a host failed (the message names it and the step), 2 bad input.\n' +
        'Example: kha apply hosts.yaml --dry-run, then kha apply hosts.yaml',
    )
    .action(async (file: string, flags: ApplyFlags) => {
      const inv = await requireInventory(file, ctx.env);
      const inner = await runInOperatorNetns(inv, ctx.argv, ctx.env);
      if (inner !== null) return ctx.exit(inner);
      // Loaded here, not at the top: with operator.netns the process that got
      // this far only re-runs kha in the namespace and never needs SSH or listr2.
      const { runApply } = await import('./apply-run.js');
      await runApply(inv, file, flags, ctx);
    });
}
