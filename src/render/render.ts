import { InputError } from '../errors.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import { topologyOf } from '../topology/of.js';
import type { RenderedFile } from './catalog.js';
import { renderSpec } from './spec.js';

export interface RenderedHost {
  host: string;
  files: RenderedFile[];
}

export { renderSpec };

export function renderLoadBalancer(inv: Inventory, lb: LoadBalancer, iface: string): RenderedFile[] {
  return topologyOf(inv).files.filter((spec) => spec.when?.(inv, lb) ?? true).map((spec) => renderSpec(spec, spec.context(inv, lb, iface)));
}

/**
 * Every host's files, with the interfaces hosts.yaml names (render has no
 * SSH to discover them; apply renders per host with the discovered one).
 * Masters of a dedicated topology get none.
 */
export function renderAll(inv: Inventory): RenderedHost[] {
  const missing = inv.lbs.filter((lb) => lb.interface === undefined);
  if (missing.length > 0) {
    throw new InputError(
      `${missing.map((lb) => lb.name).join(', ')}: no interface in ${inv.file}. kha apply finds it from the route to the VIP; ` +
        `kha render has no SSH, so set lb[].interface (e.g. interface: eth0) to render offline`,
    );
  }
  const hosts: RenderedHost[] = inv.lbs.map((lb) => ({ host: lb.name, files: renderLoadBalancer(inv, lb, lb.interface!) }));
  for (const m of inv.masters) {
    if (!hosts.some((h) => h.host === m.name)) hosts.push({ host: m.name, files: [] });
  }
  return hosts;
}
