import { Listr } from 'listr2';
import type { Reporter, StageRun } from '../execute/runner.js';
import { redact } from '../secret.js';
import type { Streams } from './output.js';

// Shows stages as they run. Order and concurrency are decided by the stages
// themselves (execute/runner.ts); this only chooses how progress looks.

export type ProgressMode = 'tty' | 'plain' | 'silent';

export function progressMode(json: boolean, env: NodeJS.ProcessEnv, stdout: { isTTY?: boolean } = process.stdout): ProgressMode {
  if (json) return 'silent';
  return stdout.isTTY && !env.CI ? 'tty' : 'plain';
}

function stamp(): string {
  return new Date().toISOString().slice(11, 23);
}

export async function showStages(stages: readonly StageRun[], mode: ProgressMode, streams: Streams): Promise<void> {
  if (mode === 'tty') {
    const list = new Listr(
      stages.map((s) => ({
        title: s.title,
        task: async (_ctx: unknown, task: { output: string }) => {
          const report: Reporter = {
            // listr2 writes to the terminal itself, past main()'s redaction.
            progress: (text) => (task.output = redact(text)),
            changed: () => undefined,
          };
          await s.run(report);
        },
      })),
      { concurrent: false, exitOnError: true, registerSignalListeners: false, rendererOptions: { collapseErrors: false } },
    );
    await list.run();
    return;
  }
  const line = mode === 'plain' ? (t: string) => streams.stdout(`${stamp()} ${t}\n`) : () => undefined;
  for (const s of stages) {
    line(`== ${s.title}`);
    await s.run({ progress: (t) => line(`   ${t}`), changed: () => undefined });
  }
}
