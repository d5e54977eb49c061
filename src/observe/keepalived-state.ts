import type { Session } from '../transport/session.js';

// keepalived logs each state change of the instance; the last one since the
// service started is its current state (MASTER, BACKUP or FAULT).

export type VrrpState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOPPED' | 'UNKNOWN';

export function parseVrrpState(journal: string): VrrpState {
  const matches = [...journal.matchAll(/Entering (MASTER|BACKUP|FAULT) STATE/g)];
  const last = matches[matches.length - 1];
  return (last?.[1] as VrrpState | undefined) ?? 'UNKNOWN';
}

/**
 * The same from a keepalived that runs as a static pod: its console log, as
 * the kubelet keeps it (/var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log,
 * the newest file being the running container's), else as podman keeps it
 * (`podman kube play` names the container <pod>-<container>).
 */
export function podVrrpStateCommand(podLogs = '/var/log/pods'): string {
  return [
    'pgrep -x keepalived >/dev/null || { echo STOPPED; exit 0; }',
    `f=$(ls -t ${podLogs}/*_keepalived-*/keepalived/*.log 2>/dev/null | head -n 1)`,
    'if [ -n "$f" ]; then tail -n 5000 "$f"; elif command -v podman >/dev/null 2>&1; then podman logs --tail 5000 keepalived-keepalived 2>&1; fi | grep -E "Entering (MASTER|BACKUP|FAULT) STATE" | tail -n 1',
  ].join('\n');
}

export async function readPodVrrpState(session: Session): Promise<VrrpState> {
  const r = await session.exec(podVrrpStateCommand(), { timeoutMs: 15_000 });
  return r.stdout.trim() === 'STOPPED' ? 'STOPPED' : parseVrrpState(r.stdout);
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
