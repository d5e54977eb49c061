import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ejs from 'ejs';
import { InputError, InternalError } from '../errors.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import { templatesDir } from '../paths.js';
import { topologyOf } from '../topology/of.js';
import type { FileSpec, RenderedFile } from './catalog.js';
import { assertSingleLine } from './context.js';

export interface RenderedHost {
  host: string;
  files: RenderedFile[];
}

const compiled = new Map<string, ejs.TemplateFunction>();

function template(name: string): ejs.TemplateFunction {
  let fn = compiled.get(name);
  if (!fn) {
    const file = join(templatesDir, name);
    // strict + localsName: a template sees only its options object `o`; a typo
    // in a name fails loudly instead of rendering "undefined". `<%=` would
    // HTML-escape config text, so escaping is made to refuse.
    fn = ejs.compile(readFileSync(file, 'utf8'), {
      filename: file,
      strict: true,
      _with: false,
      localsName: 'o',
      escape: () => {
        throw new InternalError(`${name}: use <%- for output; <%= would HTML-escape configuration`);
      },
    }) as ejs.TemplateFunction;
    compiled.set(name, fn);
  }
  return fn;
}

export function renderSpec(spec: FileSpec, context: object): RenderedFile {
  assertSingleLine(context, spec.id);
  const content = template(spec.template)(context) as string;
  return { spec, path: spec.path, mode: spec.mode, content };
}

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
