import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { outputFor, type CliContext } from '../cli.js';
import { InputError } from '../errors.js';
import { loadInventoryFile } from '../inventory/load.js';

export function registerSetup(program: Command, ctx: CliContext): void {
  program
    .command('setup')
    .description('a wizard on the terminal: asks for your hosts, looks at them over SSH, proposes the rest and writes hosts.yaml')
    .argument('[hosts.yaml]', 'the file to write (its values are the defaults when it exists)', 'hosts.yaml')
    .addHelpText(
      'after',
      '\nIt asks what only you know (what to build, addresses, how to log in), then finds the rest on the hosts:\n' +
        'interfaces and subnet, a free VIP (ARP probe), a free virtual_router_id (listening for VRRP), whether VRRP\n' +
        "passes between the load balancers, what already runs there. It checks the result with apply's preflight,\n" +
        'explains what moves the VIP, shows the diff against an existing file and writes it only on your yes.\n' +
        'Ctrl-C at any question: exit 130, nothing written. Needs a terminal; otherwise write hosts.yaml yourself.',
    )
    .action(async (file: string) => {
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        throw new InputError(
          'kha setup asks questions and needs a terminal: run it in one, or write hosts.yaml yourself (start from examples/hosts.yaml, check it with kha validate)',
        );
      }
      const out = outputFor(ctx, false);
      const old = existsSync(file) ? await readFile(file, 'utf8') : undefined;
      const loaded = old === undefined ? undefined : await loadInventoryFile(file, ctx.env);
      if (loaded && !loaded.ok) out.warn(`${file} exists but is not valid (${loaded.problems.length} problem${loaded.problems.length === 1 ? '' : 's'}): its values are not offered as answers`);
      const was = loaded?.ok ? loaded.inventory : undefined;
      // Loaded here: SSH and the prompts only when the wizard runs.
      const [{ runWizard }, { terminalPrompter }, { presentedHostKey, trustHostKey }, { connectAll }, { gatherFacts }, { runChecks }] = await Promise.all([
        import('../setup/wizard.js'),
        import('../setup/prompter.js'),
        import('../transport/host-key-scan.js'),
        import('../transport/ssh.js'),
        import('../facts/gather.js'),
        import('../execute/apply.js'),
      ]);
      const prompt = await terminalPrompter();
      const result = await runWizard(file, was, {
        prompt,
        say: (l) => out.line(l),
        env: ctx.env,
        now: () => new Date(),
        hostKey: (name, address, port) => presentedHostKey(name, address, port, 10_000),
        trust: trustHostKey,
        connect: connectAll,
        gather: gatherFacts,
        check: runChecks,
      });
      const [{ finishSetup }, { explain }, { formatExplanation }] = await Promise.all([
        import('../setup/finish.js'),
        import('../explain/explain.js'),
        import('../explain/format.js'),
      ]);
      if (!(await finishSetup(result, file, old, prompt, out, formatExplanation(explain(result.inventory))))) ctx.exit(1);
    });
}
