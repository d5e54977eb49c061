import { HostError } from '../../errors.js';
import { type Inventory, vipOf } from '../../inventory/model.js';
import { vipPresentCommand } from '../../observe/vip.js';
import type { Session } from '../../transport/session.js';

// What the gates of order.ts run on the hosts: keepalived has won, or has joined as backup.

const VIP_TIMEOUT_S = 20;

/** Waits until the host holds the VIP: keepalived has won the election. */
export async function waitForVip(session: Session, inv: Inventory): Promise<number> {
  const started = Date.now();
  const tries = Math.ceil(VIP_TIMEOUT_S / 0.1);
  const r = await session.exec(`for i in $(seq 1 ${tries}); do ${vipPresentCommand(inv)} && exit 0; sleep 0.1; done; exit 1`, {
    timeoutMs: (VIP_TIMEOUT_S + 10) * 1000,
  });
  if (r.code !== 0) {
    const log = await session.exec('journalctl -u keepalived -n 6 --no-pager -o cat 2>/dev/null');
    throw new HostError(session.host, 'wait for the VIP', `did not take the VIP ${vipOf(inv).address} within ${VIP_TIMEOUT_S} s:\n${log.stdout.trim()}`);
  }
  return Date.now() - started;
}

/**
 * A backup has joined when its keepalived runs and, after a few advert
 * intervals, it has not taken the VIP from the holder.
 */
export async function isBackup(session: Session, inv: Inventory, holder: Session | undefined): Promise<void> {
  const settle = Math.max(1, 4 * inv.keepalived.advertInt);
  const r = await session.exec(`sleep ${settle}; systemctl is-active --quiet keepalived || exit 2; ${vipPresentCommand(inv)} && exit 3; exit 0`, {
    timeoutMs: (settle + 10) * 1000,
  });
  if (r.code === 2) throw new HostError(session.host, 'confirm backup', 'keepalived is not running after its start');
  if (r.code === 3 && holder) throw new HostError(session.host, 'confirm backup', `took the VIP instead of joining as backup`);
  if (holder) {
    const h = await holder.exec(vipPresentCommand(inv));
    if (h.code !== 0) throw new HostError(holder.host, 'confirm backup', `lost the VIP while ${session.host} joined`);
  }
}
