// Commands are bounded on the host itself. Stopping them from our side does
// not work: sshd ignores the SSH "signal" request for root logins (it needs
// privilege separation, which a root session does not have), ssh2 drops it
// once stdin is closed, and closing the channel leaves the process running.

import { shellQuote } from '../shell/quote.js';

/** What coreutils `timeout` exits with when it had to stop the command. */
export const TIMED_OUT_CODE = 124;
/** How long a command may ignore SIGTERM before it gets SIGKILL. */
export const KILL_AFTER_MS = 2_000;

/** `timeout` signals the command's whole process group, so children die too. */
export function timeLimited(command: string, timeoutMs: number): string {
  if (!(timeoutMs > 0)) throw new RangeError(`a command time limit must be positive, got ${timeoutMs}`);
  return `timeout -k ${seconds(KILL_AFTER_MS)} ${seconds(timeoutMs)} sh -c ${shellQuote(command)}`;
}

function seconds(ms: number): string {
  return String(Math.ceil(ms) / 1000);
}
