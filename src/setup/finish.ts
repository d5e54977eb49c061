import { rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { topologyOf } from '../topology/of.js';
import type { Output } from '../ui/output.js';
import type { Prompter } from './prompter.js';
import type { WizardResult } from './wizard.js';

// The end of kha setup: what apply's preflight would say, the diff against
// the file that is there, one yes, an atomic write, and what to run next.

/** Returns whether the file was written. */
export async function finishSetup(result: WizardResult, file: string, old: string | undefined, prompt: Prompter, out: Output, explanation: readonly string[]): Promise<boolean> {
  const problems = result.findings.filter((f) => !f.warning);
  for (const f of result.findings) out.line(`${f.warning ? 'warning' : 'apply would stop here'}: ${f.host} [${f.check}]: ${f.message}`);
  if (explanation.length > 0) out.line(['', ...explanation, ''].join('\n'));
  if (old !== undefined) out.line(createTwoFilesPatch(file, file, old, result.text, 'now', 'as kha setup would write it', { context: 2 }));
  const write = await prompt.confirm({
    message: problems.length > 0 ? `Write ${file} anyway? kha apply stops on the problems above until they are fixed` : `Write ${file}?`,
    default: problems.length === 0,
  });
  if (!write) {
    out.line('Nothing written.');
    return false;
  }
  // Atomic: a reader sees the old file or the new one. A typed sudo password makes it private.
  const tmp = join(dirname(file), `.${basename(file)}.kha-${process.pid}`);
  await writeFile(tmp, result.text, { mode: result.holdsSecret ? 0o600 : 0o644 });
  await rename(tmp, file);
  out.line(`wrote ${file}`);
  out.line('Next:');
  out.line(`  kha apply ${file} --dry-run     what apply would change, file by file`);
  const byTheKubelet = topologyOf(result.inventory).name === 'static-pods';
  out.line(`  kha apply ${file}               ${byTheKubelet ? 'write the files and the Pod manifests: the kubelet starts keepalived and haproxy' : 'build the endpoint'}`);
  if (result.firstBuild) out.line(`  kha kubeadm ${file} --out kubeadm-config.yaml     then kubeadm init with it (no apiserver answers yet)`);
  out.line(`  kha verify-failover ${file}     prove the failover${result.firstBuild ? ' once the cluster is up' : ''}`);
  return true;
}
