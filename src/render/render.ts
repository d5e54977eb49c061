import { InputError } from '../errors.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import { kubeletFiles } from '../kubelet/files.js';
import { nodeProxyFiles } from '../node-proxy/files.js';
import { topologyOf } from '../topology/of.js';
import { hostNames, hostRoles, kubeletHosts, type KubeletHost, type ProxyHost } from '../topology/roles.js';
import type { FileSpec, RenderedFile } from './catalog.js';
import { renderSpec } from './spec.js';

export interface RenderedHost {
  host: string;
  files: RenderedFile[];
}

export { renderSpec };

/** One role's catalogue for one host of that role. */
function renderCatalogue<H>(specs: readonly FileSpec<H>[], inv: Inventory, host: H, iface: string): RenderedFile[] {
  return specs.filter((spec) => spec.when?.(inv, host) ?? true).map((spec) => renderSpec(spec, spec.context(inv, host, iface)));
}

export function renderLoadBalancer(inv: Inventory, lb: LoadBalancer, iface: string): RenderedFile[] {
  return renderCatalogue(topologyOf(inv).files, inv, lb, iface);
}

/** The local proxy's files for one host that gets it (docs/node-proxy.md); it needs no interface. */
export function renderNodeProxy(inv: Inventory, host: ProxyHost): RenderedFile[] {
  return renderCatalogue(nodeProxyFiles(inv), inv, host, '');
}

/** What kha writes for a kubelet it manages (hosts.yaml kubelet): nothing without the section. */
export function renderKubelet(inv: Inventory, host: KubeletHost): RenderedFile[] {
  return renderCatalogue(kubeletFiles, inv, host, '');
}

/**
 * Every host's files, with the interfaces hosts.yaml names (render has no
 * SSH to discover them; apply renders per host with the discovered one).
 * A host gets the files of each role it has: its topology's as a load
 * balancer, the local proxy's when it gets one, its kubelet's drop-in when
 * hosts.yaml asks for one; a master with none of these gets none.
 */
export function renderAll(inv: Inventory): RenderedHost[] {
  const missing = inv.lbs.filter((lb) => lb.interface === undefined);
  if (missing.length > 0) {
    throw new InputError(
      `${missing.map((lb) => lb.name).join(', ')}: no interface in ${inv.file}. kha apply finds it from the route to the VIP; ` +
        `kha render has no SSH, so set lb[].interface (e.g. interface: eth0) to render offline`,
    );
  }
  return hostNames(inv).map((name) => {
    const { lb, proxy } = hostRoles(inv, name);
    const kubelet = kubeletHosts(inv).find((h) => h.name === name);
    return {
      host: name,
      files: [...(lb ? renderLoadBalancer(inv, lb, lb.interface!) : []), ...(proxy ? renderNodeProxy(inv, proxy) : []), ...(kubelet ? renderKubelet(inv, kubelet) : [])],
    };
  });
}
