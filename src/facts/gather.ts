import { HostError } from '../errors.js';
import type { Session } from '../transport/session.js';
import { shellQuote } from '../shell/quote.js';
import { parseProbe } from './parse.js';
import { probeScript } from './probe.js';
import type { HostFacts, ProbeRequest } from './types.js';

/**
 * firewall-cmd is slow (a Python start per call, seconds on a small VM) and
 * the probe calls it nine times; a minute still catches a hung host.
 */
export const PROBE_TIMEOUT_MS = 60_000;

/**
 * The script goes inline through `sh -c`, not on stdin: commands in it
 * (systemctl, firewall-cmd) could read stdin and swallow the rest of the
 * script, and stdin already carries the sudo password when there is one.
 * `sh -c` also keeps the script in POSIX sh whatever the login shell is.
 */
export function probeCommand(req: ProbeRequest): string {
  return `sh -c ${shellQuote(probeScript(req))}`;
}

export async function gatherFacts(session: Session, req: ProbeRequest): Promise<HostFacts> {
  const result = await session.exec(probeCommand(req), { timeoutMs: PROBE_TIMEOUT_MS });
  if (result.code !== 0) {
    const why = result.stderr.trim().split('\n').slice(-3).join(' / ') || 'no message';
    throw new HostError(session.host, 'facts', `the probe exited with code ${result.code}: ${why}`);
  }
  return parseProbe(session.host, result.stdout, req);
}
