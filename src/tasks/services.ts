import { createHash } from 'node:crypto';
import type { Change, ServiceName } from '../plan/changes.js';
import type { RenderedFile } from '../render/render.js';
import type { TaskContext, Task } from './context.js';
import { STATE_DIR } from './directories.js';

export const SERVICES: readonly ServiceName[] = ['haproxy', 'keepalived'];

export function markerPath(service: ServiceName): string {
  return `${STATE_DIR}/${service}.loaded`;
}

/** Digest of the configuration a service should be running with. */
export function configDigest(files: readonly RenderedFile[], service: ServiceName): string {
  const h = createHash('sha256');
  for (const f of files.filter((x) => x.spec.service === service)) h.update(`${f.path}\0${f.content}\0`);
  return `${h.digest('hex')}\n`;
}

function planService(ctx: TaskContext, service: ServiceName): Change[] {
  const state = ctx.facts.services.find((s) => s.name === service);
  const marker = { path: markerPath(service), digest: configDigest(ctx.files, service) };
  const changes: Change[] = [];
  if (state?.enabled !== 'enabled') changes.push({ kind: 'service.enable', service });
  if (state?.active !== 'active') {
    changes.push({ kind: 'service.start', service, marker });
    return changes;
  }
  const written = ctx.planned.some((c) => c.kind === 'file.write' && c.service === service && !c.modeOnly);
  const loaded = ctx.facts.files.find((f) => f.path === marker.path)?.content ?? null;
  if (written) {
    changes.push({ kind: 'service.reload', service, why: 'its configuration changed', marker });
  } else if (loaded !== marker.digest) {
    changes.push({
      kind: 'service.reload',
      service,
      why: loaded === null ? 'kha has not seen it load this configuration' : 'the running configuration is older than the file',
      marker,
    });
  }
  return changes;
}

export const servicesTask: Task = {
  name: 'services',
  purpose: 'haproxy, then keepalived, are enabled and running the configuration on disk; only what changed is reloaded',
  plan(ctx) {
    const changes: Change[] = [];
    if (ctx.planned.some((c) => c.kind === 'file.write' && c.service === 'systemd' && !c.modeOnly)) {
      changes.push({ kind: 'systemd.daemon-reload' });
    }
    for (const s of SERVICES) changes.push(...planService(ctx, s));
    return changes;
  },
};
