import type { HostFacts } from '../facts/types.js';
import type { Inventory, Master } from '../inventory/model.js';
import { STATE_DIR } from '../tasks/directories.js';

// Which apiservers have answered through this endpoint before, recorded on
// every load balancer: an apiserver that never answered is a cluster still
// being built (before kubeadm init, a master not joined yet); one that did
// and no longer does is an outage, and must never pass as the former.

export const SEEN_PATH = `${STATE_DIR}/apiservers.seen`;

/** A master is the same one while its name, address and port are. */
export function seenKey(m: Master): string {
  return `${m.name} ${m.address}:${m.apiserverPort}`;
}

/** The union of what every load balancer recorded. */
export function readSeen(facts: Iterable<HostFacts>): Set<string> {
  const seen = new Set<string>();
  for (const f of facts) {
    const content = f.files.find((x) => x.path === SEEN_PATH)?.content ?? '';
    for (const line of content.split('\n')) if (line.trim()) seen.add(line.trim());
  }
  return seen;
}

/** The record after this run: what was seen, plus what answers now, for the masters hosts.yaml still lists. */
export function seenAfter(inv: Inventory, before: ReadonlySet<string>, upNow: readonly string[]): string {
  const keys = inv.masters.map(seenKey).filter((k) => before.has(k) || upNow.includes(k.split(' ')[0]!));
  return keys.length === 0 ? '' : `${keys.join('\n')}\n`;
}
