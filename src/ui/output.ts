import type { Problem } from '../errors.js';
import { formatProblem } from '../errors.js';

/**
 * Where a command's results go. Commands call this and never write to the
 * console themselves, so `--json` can never be mixed with human lines.
 */
export interface Output {
  readonly json: boolean;
  /** A line for people; dropped under --json. */
  line(text: string): void;
  /** A warning for people (stderr); under --json it is collected into the result. */
  warn(text: string): void;
  /** A closing error line for people (stderr); under --json the result object says it. */
  error(text: string): void;
  /** The machine-readable result; printed once, only under --json. */
  result(value: Record<string, unknown>): void;
  /** Located problems: one line each for people, objects under --json. */
  problems(list: readonly Problem[]): void;
}

export interface Streams {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** A reader gone (a closed pipe, a terminal hung up): nothing more can be said there. */
const READER_GONE = ['EPIPE', 'EIO', 'ERR_STREAM_DESTROYED'];

/**
 * A stream whose reader went away (`kha status | head`, a closed terminal)
 * is dropped quietly: the command still runs to its end (an apply or a
 * drill must not stop half-way, leaving a host unhealed, because nobody
 * reads its output), it just has no one to tell. Without the error listener
 * Node would end the process on EPIPE with a stack trace; listr2, which
 * writes to process.stdout itself, is covered by the same listener.
 */
function pipeSafe(stream: NodeJS.WriteStream): (text: string) => void {
  let open = true;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (!READER_GONE.includes(err.code ?? '')) throw err;
    open = false;
  });
  return (text) => {
    if (open) stream.write(text);
  };
}

export const processStreams: Streams = {
  stdout: pipeSafe(process.stdout),
  stderr: pipeSafe(process.stderr),
};

export function createOutput(json: boolean, streams: Streams = processStreams): Output {
  const warnings: string[] = [];
  return {
    json,
    line(text) {
      if (!json) streams.stdout(`${text}\n`);
    },
    warn(text) {
      if (json) warnings.push(text);
      else streams.stderr(`warning: ${text}\n`);
    },
    error(text) {
      if (!json) streams.stderr(`${text}\n`);
    },
    result(value) {
      if (!json) return;
      const body = warnings.length > 0 ? { ...value, warnings } : value;
      streams.stdout(`${JSON.stringify(body, null, 2)}\n`);
    },
    problems(list) {
      if (json) return;
      for (const p of list) streams.stderr(`${formatProblem(p)}\n`);
    },
  };
}
