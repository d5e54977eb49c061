import { rename, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { outputFor, type CliContext } from '../cli.js';
import { requireInventory } from '../inventory/load.js';
import { handoffSteps, kubeadmHandoff, NEWEST_MINOR, OLDEST_MINOR, parseKubernetesVersion } from '../kubeadm/handoff.js';

export function registerKubeadm(program: Command, ctx: CliContext): void {
  program
    .command('kubeadm')
    .description('what kubeadm needs from this endpoint: a configuration for kubeadm init (controlPlaneEndpoint, certSANs) and the join lines; no SSH')
    .argument('<hosts.yaml>', 'the inventory file')
    .option('--kubernetes-version <version>', `the version kubeadm installs, like v1.31.2 (1.${OLDEST_MINOR}-1.${NEWEST_MINOR}); picks the configuration API kubeadm reads`)
    .option('-o, --out <file>', 'write the configuration to this file instead of printing it')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nThe order every guide teaches: build the endpoint first (kha apply), then kubeadm init with this\n' +
        'configuration on the first master, then join the others through the VIP; kha status --wait\n' +
        'tells when haproxy sees every apiserver.\n' +
        'Example: kha kubeadm hosts.yaml --kubernetes-version v1.31.2 --out kubeadm-config.yaml',
    )
    .action(async (file: string, flags: { kubernetesVersion?: string; out?: string; json?: boolean }) => {
      const out = outputFor(ctx, Boolean(flags.json));
      const version = flags.kubernetesVersion === undefined ? undefined : parseKubernetesVersion(flags.kubernetesVersion);
      const inv = await requireInventory(file, ctx.env);
      const h = kubeadmHandoff(inv, version);
      const target = flags.out ?? 'kubeadm-config.yaml';
      const steps = handoffSteps(h, basename(target));
      if (flags.out !== undefined) {
        // Atomic: a file kubeadm reads is never half written.
        const tmp = `${flags.out}.kha-${process.pid}`;
        await writeFile(tmp, h.config, { mode: 0o644 });
        await rename(tmp, flags.out);
        out.line(`wrote ${flags.out}: controlPlaneEndpoint ${h.controlPlaneEndpoint}, certSANs ${h.certSans.join(', ')} (${h.apiVersion})`);
      } else {
        out.line(h.config.trimEnd());
        out.line('');
      }
      const comment = flags.out === undefined ? '# ' : '';
      if (version === undefined) {
        out.line(`${comment}No --kubernetes-version: written for kubeadm 1.31 or newer (${h.apiVersion}); kubeadm picks its own version. For an older kubeadm, pass --kubernetes-version.`);
      }
      out.line(`${comment}Next${flags.out === undefined ? ` (save the above as ${target})` : ''}:`);
      for (const s of steps) out.line(`${comment}${s}`);
      out.line(`${comment}Then: kha status ${file} --wait (until haproxy sees every apiserver), and kha verify-failover ${file}.`);
      out.result({ ok: true, ...h, steps, ...(flags.out === undefined ? {} : { written: flags.out }) });
    });
}
