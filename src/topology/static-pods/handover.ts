import type { Change } from '../../plan/changes.js';
import type { FileSpec } from '../../render/catalog.js';
import { header, keepalivedEndContext } from '../../render/context.js';
import { BASH_SYNTAX } from '../../render/validators.js';
import type { Task } from '../../tasks/context.js';
import { planFiles } from '../../tasks/files.js';
import { filesDigest, markerPath } from '../../tasks/services.js';
import { findKeepalivedWrapper } from './find-wrapper.js';
import { KEEPALIVED_DIR, SHUTDOWN_MARKER } from './manifests.js';

// A master whose keepalived and haproxy run as static pods hands the VIP over
// before it shuts down, as a host with the services does (systemd stops
// keepalived before haproxy there). At shutdown systemd stops every
// container's scope at once, haproxy's with keepalived's: clients whose ARP
// still names the old holder met no haproxy while keepalived said goodbye.
// kha-handover.service stops keepalived's container as the kubelet would and
// waits for it to end, before anything else stops, by two ways: a logind
// delay lock, whose PrepareForShutdown comes before systemd stops any unit
// (a reboot or shutdown asked of logind: systemctl reboot, poweroff,
// shutdown), and the unit's own stop, for a shutdown that bypasses logind,
// which drop-ins order before whatever stops containers (STOPPERS).
// docs/static-pods.md has the figures.

export const HANDOVER_SERVICE = 'kha-handover';
const UNIT_PATH = `/etc/systemd/system/${HANDOVER_SERVICE}.service`;
export const HANDOVER_SCRIPT = `${KEEPALIVED_DIR}/kha-handover.sh`;

/** How long the stop waits for keepalived's container to end; systemd's own limit is a margin over it. */
const LIMIT_S = 10;

/**
 * What stops containers at shutdown, each ordered after kha-handover by a
 * drop-in: every container's scope, by the prefix of its name (the systemd
 * cgroup driver: podman, containerd's CRI as kubeadm sets it up, CRI-O,
 * Docker), and the services that stop containers themselves as they stop:
 * dockerd stops every container as it exits, and podman-restart.service
 * (enabled by podman's package) stops those with restart policy always,
 * which is every container of a pod podman plays. containerd and CRI-O
 * leave their containers running when they stop. A prefix drop-in for
 * scopes is safe on any systemd: a scope is loaded, drop-ins and all, only
 * once it is transient, so its name is still free when the runtime asks for
 * it. (Not so for slices before systemd 252: a drop-in made a new slice's
 * name "already exist", podman #16107. Seen on systemd 247: a scope started
 * under `libpod-.scope.d` and carried its Before=.)
 */
const STOPPERS = [
  { unit: 'libpod-.scope', what: "Every podman container's scope (libpod-*.scope)" },
  { unit: 'cri-containerd-.scope', what: "Every container's scope under containerd's CRI (cri-containerd-*.scope)" },
  { unit: 'crio-.scope', what: "Every CRI-O container's scope (crio-*.scope)" },
  { unit: 'docker-.scope', what: "Every Docker container's scope (docker-*.scope)" },
  { unit: 'docker.service', what: 'dockerd, which stops every container as it exits' },
  { unit: 'podman-restart.service', what: "podman-restart.service, which stops podman's containers with restart policy always" },
] as const;

const dropInPath = (unit: string): string => `/etc/systemd/system/${unit}.d/${HANDOVER_SERVICE}.conf`;

/** The files, in the order they are written: the script, the unit that runs it, then the drop-ins that order the containers after it. */
export const HANDOVER_FILES: readonly FileSpec[] = [
  {
    id: 'handover-script',
    template: 'kha-handover.sh.ejs',
    path: HANDOVER_SCRIPT,
    mode: 0o755,
    service: 'systemd',
    validate: BASH_SYNTAX,
    context: (inv, lb, iface) => ({
      ...keepalivedEndContext(inv, lb, iface),
      limitS: LIMIT_S,
      marker: SHUTDOWN_MARKER,
      findWrapper: findKeepalivedWrapper('echo "kha-handover: $1: $why: nothing to hand over"; return 0'),
    }),
  },
  {
    id: 'handover-unit',
    template: 'kha-handover.service.ejs',
    path: UNIT_PATH,
    mode: 0o644,
    service: 'systemd',
    context: (_inv, lb) => ({ header: header(lb.name), script: HANDOVER_SCRIPT, dropIns: STOPPERS.map((x) => x.unit).join(' '), timeoutS: LIMIT_S + 5 }),
  },
  ...STOPPERS.map(
    ({ unit, what }): FileSpec => ({
      id: `handover-${unit}`,
      template: 'kha-handover-order.conf.ejs',
      path: dropInPath(unit),
      mode: 0o644,
      service: 'systemd',
      context: (_inv, lb) => ({ header: header(lb.name), what }),
    }),
  ),
];

const HANDOVER_IDS: ReadonlySet<string> = new Set(HANDOVER_FILES.map((f) => f.id));
/** The script and the unit: what the running service was started from. */
const RUNNER_IDS: ReadonlySet<string> = new Set(['handover-script', 'handover-unit']);

export function isHandoverFile(f: { spec: { id: string } }): boolean {
  return HANDOVER_IDS.has(f.spec.id);
}

/** Where kha records the digest of the script and unit kha-handover last started with. */
export const HANDOVER_MARKER = markerPath(HANDOVER_SERVICE);

export const handoverTask: Task = {
  name: 'handover',
  purpose: `at shutdown keepalived's container hands the VIP over before haproxy's stops (${HANDOVER_SERVICE}.service)`,
  plan({ facts, files }) {
    const mine = files.filter(isHandoverFile);
    const changes: Change[] = planFiles(facts, mine);
    const state = facts.services.find((s) => s.name === HANDOVER_SERVICE);
    if (state?.enabled !== 'enabled') changes.push({ kind: 'service.enable', service: HANDOVER_SERVICE });
    // The watch runs the script it started with: a new script or unit takes a restart, and the marker records
    // what it started from, so that a run stopped before the restart still owes it.
    const runners = mine.filter((f) => RUNNER_IDS.has(f.spec.id));
    const marker = { path: HANDOVER_MARKER, digest: filesDigest(runners, 'systemd') };
    const loaded = facts.files.find((f) => f.path === HANDOVER_MARKER)?.content ?? null;
    const written = changes.some((c) => c.kind === 'file.write' && !c.modeOnly && runners.some((f) => f.path === c.path));
    if (state?.active !== 'active' || loaded !== marker.digest || written) changes.push({ kind: 'service.start', service: HANDOVER_SERVICE, marker });
    return changes;
  },
};
