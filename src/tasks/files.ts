import type { HostFacts } from '../facts/types.js';
import type { Change } from '../plan/changes.js';
import type { RenderedFile } from '../render/catalog.js';
import type { Task } from './context.js';

/** A task that writes the rendered files `which` picks (a topology may write some files in a later stage than others). */
export function filesTaskOf(name: string, purpose: string, which: (f: RenderedFile) => boolean): Task {
  return {
    name,
    purpose,
    plan: ({ facts, files }) => planFiles(facts, files.filter(which)),
  };
}

export const filesTask: Task = filesTaskOf(
  'files',
  'every file kha manages has exactly the rendered content and mode; systemd has read its drop-ins',
  () => true,
);

/** The writes that give a host exactly these files (content and mode), and systemd's daemon-reload when a unit changed. */
export function planFiles(facts: HostFacts, files: readonly RenderedFile[]): Change[] {
  const changes: Change[] = [];
  for (const f of files) {
    const now = facts.files.find((x) => x.path === f.path);
    const previous = now?.exists ? now.content : null;
    const sameContent = previous === f.content;
    if (sameContent && now?.mode === f.mode) continue;
    const change: Change = {
      kind: 'file.write',
      path: f.path,
      mode: f.mode,
      content: f.content,
      previous,
      modeOnly: sameContent,
      secret: f.spec.secret === true,
      service: f.spec.service,
    };
    if (f.spec.validate !== undefined && !sameContent) change.validate = f.spec.validate;
    if (f.spec.kubeletReads) change.hiddenBackup = true;
    changes.push(change);
  }
  // systemd reads a changed unit or drop-in only on daemon-reload: done
  // right here, so a later stage never runs a service on its old unit.
  if (changes.some((c) => c.kind === 'file.write' && c.service === 'systemd' && !c.modeOnly)) changes.push({ kind: 'systemd.daemon-reload' });
  return changes;
}
