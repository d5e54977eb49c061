import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ejs from 'ejs';
import { InternalError } from '../errors.js';
import { templatesDir } from '../paths.js';
import type { FileKind, RenderedFile } from './catalog.js';
import { assertSingleLine } from './context.js';

// One file of a catalogue, from its context to its text. Apart from
// render.ts (which asks the topology which files a host gets) so that a
// catalogue may render its own files too: a static pod's manifest carries a
// hash of the configuration files it mounts (topology/static-pods).

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

export function renderSpec(spec: FileKind, context: object): RenderedFile {
  assertSingleLine(context, spec.id);
  const content = typeof spec.template === 'function' ? spec.template(context) : (template(spec.template)(context) as string);
  // In-process checks (a Pod manifest against the Kubernetes schema) run on
  // every render: kha render, validate, the plan of apply and status' drift.
  // A file that fails is kha's own mistake, never written anywhere.
  const refused = spec.check?.(content) ?? [];
  if (refused.length > 0) throw new InternalError(`${spec.path} (${spec.id}) as kha renders it is refused: ${refused.join('; ')}; nothing was written`);
  return { spec, path: spec.path, mode: spec.mode, content };
}
