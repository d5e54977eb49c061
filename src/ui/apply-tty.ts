import { Listr } from 'listr2';
import { redact } from '../secret.js';
import type { StageView } from './apply-human.js';
import { countsLine } from './apply-lines.js';

// Stages on a terminal: each stage is a listr2 task that lasts from its
// stage-started event to its end, with the latest progress line under it.
// The pipeline drives the order; listr2 only draws.

interface Running {
  /** Set once listr2 has entered the task. */
  task: { output: string; title: string };
  end: (error?: unknown) => void;
  /** listr2 has drawn the stage's end. */
  drawn: Promise<void>;
}

export function ttyStages(): StageView {
  let running: Running | undefined;
  return async (e) => {
    switch (e.kind) {
      case 'stage-started': {
        let enter: (entered: Omit<Running, 'drawn'>) => void = () => undefined;
        const entered = new Promise<Omit<Running, 'drawn'>>((resolve) => (enter = resolve));
        const list = new Listr(
          [
            {
              title: e.title,
              task: (_ctx: unknown, task: { output: string; title: string }) =>
                new Promise<void>((resolve, reject) => enter({ task, end: (error) => (error === undefined ? resolve() : reject(error)) })),
            },
          ],
          { concurrent: false, exitOnError: true, registerSignalListeners: false, rendererOptions: { collapseErrors: false } },
        );
        // The error is the pipeline's to throw; listr2 has only to show it.
        const drawn = list.run().then(
          () => undefined,
          () => undefined,
        );
        running = { ...(await entered), drawn };
        return;
      }
      case 'progress':
        // listr2 writes to the terminal itself, past main()'s redaction.
        if (running) running.task.output = redact(e.text);
        return;
      case 'rollout-progress':
        // Counts in the stage's title, one line however many hosts; the latest host's line stays under it.
        if (running) running.task.title = `${e.title}: ${countsLine(e.counts)}`;
        return;
      case 'stage-finished':
      case 'stage-failed':
        running?.end(e.kind === 'stage-failed' ? e.error : undefined);
        await running?.drawn;
        running = undefined;
        return;
    }
  };
}
