import type { Inventory, Master } from '../inventory/model.js';

// Which hosts carry the endpoint, as hosts.yaml says it: a host listed under
// both lb and masters runs keepalived and haproxy beside its apiserver
// (source 004). The inventory's checks make such a host the same name and
// address in both lists, so its address identifies it.

/** A master that runs the endpoint too: haproxy holds the VIP's port, the apiserver its own. */
export function carriesEndpoint(inv: Inventory, m: Master): boolean {
  return inv.lbs.some((lb) => lb.address === m.address);
}

/** Every load balancer is a master: nothing of the endpoint runs on a host of its own. */
export function onMastersOnly(inv: Inventory): boolean {
  return inv.lbs.every((lb) => inv.masters.some((m) => m.address === lb.address));
}

/** What one host does for the endpoint, in the words `status` prints: the VIP's port it serves, the apiserver port it runs. */
export function rolesOf(inv: Inventory, name: string): string[] {
  const roles: string[] = [];
  if (inv.lbs.some((lb) => lb.name === name)) roles.push(`lb :${inv.port}${inv.staticPods ? ' (static pods)' : ''}`);
  const m = inv.masters.find((h) => h.name === name);
  if (m) roles.push(`apiserver :${m.apiserverPort}`);
  return roles;
}
