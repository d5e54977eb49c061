// The signals that mean "stop" to kha: Ctrl-C, a supervisor or CI job
// cancelling it, a terminal closing under it. Each ends a run the same way,
// through its restore path, never by Node's default of dying on the spot.

export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type InterruptSignal = (typeof INTERRUPT_SIGNALS)[number];

/** Calls `handler` on each of those signals until the returned function is called. */
export function onInterrupt(handler: (signal: InterruptSignal) => void): () => void {
  const listeners = INTERRUPT_SIGNALS.map((signal) => [signal, () => handler(signal)] as const);
  for (const [signal, listener] of listeners) process.on(signal, listener);
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}
