import { createHash } from 'node:crypto';
import type { Change, ServiceName } from '../plan/changes.js';
import type { RenderedFile, Service } from '../render/catalog.js';
import type { Inventory } from '../inventory/model.js';
import { holdsVip } from '../facts/derived.js';
import type { TaskContext, Task } from './context.js';
import { STATE_DIR } from './directories.js';

/** A marker's first line once kha wrote a file the service has not loaded yet (its digest's place). */
export const NOT_LOADED = 'written, not loaded';

export function markerPath(service: ServiceName): string {
  return `${STATE_DIR}/${service}.loaded`;
}

/**
 * What makes keepalived instances one VRRP group: peers that differ in any
 * of these ignore each other's adverts, so each would take the VIP. Hashed:
 * the password must not be readable from the marker.
 */
export function vrrpGroup(inv: Inventory): string {
  const k = inv.keepalived;
  const identity = `v${k.version} id ${k.routerId} ${k.unicast ? 'unicast' : 'multicast'} auth ${k.authPass?.reveal() ?? '-'}`;
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}

/** sha256 (hex) of the files of one service (or of systemd: units a service starts from), paths and contents: what changes whenever the configuration it reads does. */
export function filesDigest(files: readonly RenderedFile[], service: Service | ServiceName): string {
  const h = createHash('sha256');
  for (const f of files.filter((x) => x.spec.service === service)) h.update(`${f.path}\0${f.content}\0`);
  return h.digest('hex');
}

/** Digest of the configuration a service should be running with (keepalived's also names its VRRP group). */
export function configDigest(files: readonly RenderedFile[], service: ServiceName, inv?: Inventory): string {
  const group = service === 'keepalived' && inv ? `vrrp-group ${vrrpGroup(inv)}\n` : '';
  return `${filesDigest(files, service)}\n${group}`;
}

function loadedGroup(marker: string | null): string | undefined {
  return marker?.match(/^vrrp-group (\S+)$/m)?.[1];
}

/** What brings one service to run the configuration on disk: enable, start, or reload only when what it loaded differs (its marker). */
export function planService(ctx: Pick<TaskContext, 'inv' | 'facts' | 'files' | 'planned'>, service: ServiceName): Change[] {
  const state = ctx.facts.services.find((s) => s.name === service);
  const marker = { path: markerPath(service), digest: configDigest(ctx.files, service, ctx.inv) };
  const changes: Change[] = [];
  if (state?.enabled !== 'enabled') changes.push({ kind: 'service.enable', service });
  if (state?.active !== 'active') {
    changes.push({ kind: 'service.start', service, marker });
    return changes;
  }
  // Only files written since the service last (re)loaded count: an earlier
  // stage of this run may already have reloaded it after writing them.
  const lastLoad = ctx.planned.findLastIndex((c) => (c.kind === 'service.start' || c.kind === 'service.reload') && c.service === service);
  const written = ctx.planned.slice(lastLoad + 1).some((c) => c.kind === 'file.write' && c.service === service && !c.modeOnly);
  const loaded = ctx.facts.files.find((f) => f.path === marker.path)?.content ?? null;
  if (service === 'keepalived' && (written || loaded !== marker.digest) && !holdsVip(ctx.inv, ctx.facts)) {
    // A backup reloaded into another VRRP group would not hear the holder and
    // would take the VIP too. It stops now and rejoins once the holder runs
    // the new configuration (playbook: "rejoin the backups").
    const group = loadedGroup(loaded);
    if (group !== vrrpGroup(ctx.inv)) {
      changes.push({
        kind: 'service.stop',
        service,
        why: group === undefined ? 'kha does not know its VRRP settings; it rejoins after the holder' : 'its VRRP group changes; it rejoins after the holder',
      });
      return changes;
    }
  }
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
    return ctx.services.flatMap((s) => planService(ctx, s));
  },
};
