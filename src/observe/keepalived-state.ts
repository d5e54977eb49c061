import type { Session } from '../transport/session.js';

// keepalived logs each state change of the instance; the last one since the
// service started is its current state (MASTER, BACKUP or FAULT).

export type VrrpState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOPPED' | 'UNKNOWN';

export function parseVrrpState(journal: string): VrrpState {
  const matches = [...journal.matchAll(/Entering (MASTER|BACKUP|FAULT) STATE/g)];
  const last = matches[matches.length - 1];
  return (last?.[1] as VrrpState | undefined) ?? 'UNKNOWN';
}

export async function readVrrpState(session: Session): Promise<VrrpState> {
  const r = await session.exec(
    'systemctl is-active --quiet keepalived || { echo STOPPED; exit 0; }; journalctl -u keepalived --since "$(systemctl show -p ActiveEnterTimestamp --value keepalived)" -o cat --no-pager 2>/dev/null | grep -E "Entering (MASTER|BACKUP|FAULT) STATE" | tail -n 1',
    { timeoutMs: 15_000 },
  );
  return r.stdout.trim() === 'STOPPED' ? 'STOPPED' : parseVrrpState(r.stdout);
}

export interface VrrpTransition {
  /** When keepalived logged it, in ms since the epoch on the host's clock. */
  epochMs: number;
  state: 'MASTER' | 'BACKUP' | 'FAULT';
}

/**
 * keepalived's state changes since a moment, from the journal as JSON: every
 * systemd kha supports has `-o json`, and its __REALTIME_TIMESTAMP is in µs.
 */
export function vrrpTransitionsCommand(sinceEpochMs: number): string {
  return `journalctl -u keepalived --since @${Math.floor(sinceEpochMs / 1000)} -o json --no-pager 2>/dev/null | grep -E 'Entering (MASTER|BACKUP|FAULT) STATE' || true`;
}

export function parseVrrpTransitions(output: string): VrrpTransition[] {
  const out: VrrpTransition[] = [];
  for (const line of output.split('\n')) {
    if (!line.trim()) continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof entry !== 'object' || entry === null) continue;
    const { MESSAGE: message, __REALTIME_TIMESTAMP: us } = entry as Record<string, unknown>;
    const m = typeof message === 'string' ? /Entering (MASTER|BACKUP|FAULT) STATE/.exec(message) : null;
    if (!m || typeof us !== 'string' || !/^\d+$/.test(us)) continue;
    out.push({ epochMs: Number(us) / 1000, state: m[1] as VrrpTransition['state'] });
  }
  return out;
}
