import { HostError } from '../errors.js';
import type { Session } from '../transport/session.js';

// A host's clock against the operator's, so that what a host logs or
// measures lands on the operator's timeline.

/** The operator's clock now, in ms since the epoch, as fine as performance.now(). */
export const epochMs = () => performance.timeOrigin + performance.now();

export interface Clock {
  /** The host's clock minus the operator's, in ms. */
  offsetMs: number;
  /** Half the round trip of the reading it comes from: times mapped with it are exact to within this. */
  uncertaintyMs: number;
}

/** From the quickest of a few `date` round trips. */
export async function clockOffset(session: Session, step: string): Promise<Clock> {
  let best: Clock | undefined;
  for (let i = 0; i < 3; i++) {
    const sent = epochMs();
    const r = await session.exec('date +%s%N', { timeoutMs: 5000 });
    const back = epochMs();
    const remote = Number(r.stdout.trim()) / 1e6;
    if (r.code !== 0 || !Number.isFinite(remote)) throw new HostError(session.host, step, `cannot read its clock (date +%s%N): ${r.stderr.trim()}`);
    const rtt = back - sent;
    if (!best || rtt / 2 < best.uncertaintyMs) best = { offsetMs: remote - (sent + rtt / 2), uncertaintyMs: rtt / 2 };
  }
  return best!;
}
