// The signals that mean "stop" to kha: Ctrl-C, a supervisor or CI job
// cancelling it, a terminal closing under it. Each ends a run the same way,
// through its restore path, never by Node's default of dying on the spot.

import type { ExitCode } from '../errors.js';

/**
 * And how a run stopped by each ends: 130 is the shell's code for Ctrl-C; a
 * SIGTERM or SIGHUP ends a run that did not complete, exit 1.
 */
export const INTERRUPT_EXIT = { SIGINT: 130, SIGTERM: 1, SIGHUP: 1 } as const satisfies Record<string, ExitCode>;
export type InterruptSignal = keyof typeof INTERRUPT_EXIT;
export const INTERRUPT_SIGNALS = Object.keys(INTERRUPT_EXIT) as InterruptSignal[];

/** Calls `handler` on each of those signals until the returned function is called. */
export function onInterrupt(handler: (signal: InterruptSignal) => void): () => void {
  const listeners = INTERRUPT_SIGNALS.map((signal) => [signal, () => handler(signal)] as const);
  for (const [signal, listener] of listeners) process.on(signal, listener);
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}
