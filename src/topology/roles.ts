import type { Inventory, LoadBalancer, Master, SshSettings } from '../inventory/model.js';

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

/** A host that runs the local proxy (docs/node-proxy.md): a node, or a master when node_proxy.masters is set. */
export interface ProxyHost {
  name: string;
  address: string;
  ssh: SshSettings;
  kind: 'node' | 'master';
}

/** Every host that gets the local proxy: the masters when node_proxy.masters is set, then the nodes. */
export function proxyHosts(inv: Inventory): ProxyHost[] {
  if (!inv.nodeProxy) return [];
  const masters = inv.nodeProxy.masters ? inv.masters.map((m) => ({ name: m.name, address: m.address, ssh: m.ssh, kind: 'master' as const })) : [];
  return [...masters, ...inv.nodes.map((n) => ({ name: n.name, address: n.address, ssh: n.ssh, kind: 'node' as const }))];
}

/** A host whose kubelet kha manages: one it reaches for another role anyway. */
export interface KubeletHost {
  name: string;
  address: string;
  ssh: SshSettings;
}

/**
 * Every host kha reaches that runs a kubelet, in hosts.yaml's order: a
 * master that is also a load balancer, and every host with the local proxy.
 * A dedicated load balancer runs none, and a master behind one kha never
 * reaches.
 */
export function kubeletHosts(inv: Inventory): KubeletHost[] {
  const endpointMasters = inv.masters.filter((m) => carriesEndpoint(inv, m));
  const hosts = [...endpointMasters, ...proxyHosts(inv)];
  return hostNames(inv).flatMap((name) => {
    const h = hosts.find((x) => x.name === name);
    return h ? [{ name: h.name, address: h.address, ssh: h.ssh }] : [];
  });
}

/** Each role one host has, as hosts.yaml gives it (a host may have several: see the inventory's identity checks). */
export interface HostRoles {
  lb?: LoadBalancer;
  master?: Master;
  proxy?: ProxyHost;
}

export function hostRoles(inv: Inventory, name: string): HostRoles {
  const roles: HostRoles = {};
  const lb = inv.lbs.find((h) => h.name === name);
  if (lb) roles.lb = lb;
  const master = inv.masters.find((h) => h.name === name);
  if (master) roles.master = master;
  const proxy = proxyHosts(inv).find((h) => h.name === name);
  if (proxy) roles.proxy = proxy;
  return roles;
}

/** Every host hosts.yaml names, once each, in file order: load balancers, masters, nodes. */
export function hostNames(inv: Inventory): string[] {
  return [...new Set([...inv.lbs, ...inv.masters, ...inv.nodes].map((h) => h.name))];
}

/**
 * What one host does for the endpoint, in the words `status` prints: the VIP's
 * port it serves, the apiserver port it runs. Not the local proxy: status
 * shows the proxies in lines of their own.
 */
export function rolesOf(inv: Inventory, name: string): string[] {
  const { lb, master } = hostRoles(inv, name);
  const roles: string[] = [];
  if (lb) roles.push(`lb :${inv.port}${inv.staticPods ? ' (static pods)' : ''}`);
  if (master) roles.push(`apiserver :${master.apiserverPort}`);
  return roles;
}
