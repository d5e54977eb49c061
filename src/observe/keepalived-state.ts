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
