import type { HostFacts } from '../../facts/types.js';
import type { Change } from '../../plan/changes.js';
import type { Check } from '../../preflight/checks.js';
import type { FileSpec } from '../../render/catalog.js';
import { header, keepalivedEndContext } from '../../render/context.js';
import { BASH_SYNTAX } from '../../render/validators.js';
import type { Task } from '../../tasks/context.js';
import { planFiles } from '../../tasks/files.js';
import { findKeepalivedWrapper } from './find-wrapper.js';

// A master whose keepalived and haproxy run as static pods hands the VIP over
// before it shuts down, as a host with the services does (systemd stops
// keepalived before haproxy there). At shutdown systemd stops every
// container's scope at once, haproxy's with keepalived's: clients whose ARP
// still names the old holder met no haproxy while keepalived said goodbye.
// kha-handover.service does nothing until it stops; its stop stops
// keepalived's container as the kubelet would and waits for it to end, and
// drop-ins order after it whatever stops containers at shutdown (STOPPERS).
// docs/static-pods.md has the figures.

export const HANDOVER_SERVICE = 'kha-handover';
const UNIT_PATH = `/etc/systemd/system/${HANDOVER_SERVICE}.service`;
const SCRIPT_PATH = '/etc/keepalived/kha-handover.sh';

/**
 * The first systemd that starts a transient unit matched by a drop-in
 * ("manager: allow transient units to have drop-ins", v252): before it, a
 * drop-in for `libpod-.scope` made every container's scope fail to start.
 */
export const HANDOVER_MIN_SYSTEMD = 252;

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
 * leave their containers running when they stop.
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
    path: SCRIPT_PATH,
    mode: 0o755,
    service: 'systemd',
    validate: BASH_SYNTAX,
    context: (inv, lb, iface) => ({ ...keepalivedEndContext(inv, lb, iface), limitS: LIMIT_S, findWrapper: findKeepalivedWrapper('echo "kha-handover: $why: nothing to hand over"; exit 0') }),
  },
  {
    id: 'handover-unit',
    template: 'kha-handover.service.ejs',
    path: UNIT_PATH,
    mode: 0o644,
    service: 'systemd',
    context: (_inv, lb) => ({ header: header(lb.name), script: SCRIPT_PATH, dropIns: STOPPERS.map((x) => x.unit).join(' '), timeoutS: LIMIT_S + 5 }),
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

export function isHandoverFile(f: { spec: { id: string } }): boolean {
  return HANDOVER_IDS.has(f.spec.id);
}

/** systemd on this host can order the containers' scopes after kha-handover. */
export function handoverOrdered(facts: HostFacts): boolean {
  return facts.systemdVersion !== null && facts.systemdVersion >= HANDOVER_MIN_SYSTEMD;
}

export const handoverTask: Task = {
  name: 'handover',
  purpose: `at shutdown keepalived's container hands the VIP over before haproxy's stops (${HANDOVER_SERVICE}.service; systemd ${HANDOVER_MIN_SYSTEMD} or newer)`,
  plan({ facts, files }) {
    if (!handoverOrdered(facts)) return [];
    const changes: Change[] = planFiles(facts, files.filter(isHandoverFile));
    const state = facts.services.find((s) => s.name === HANDOVER_SERVICE);
    if (state?.enabled !== 'enabled') changes.push({ kind: 'service.enable', service: HANDOVER_SERVICE });
    if (state?.active !== 'active') changes.push({ kind: 'service.start', service: HANDOVER_SERVICE });
    return changes;
  },
};

/** Where systemd is too old for the drop-ins, a reboot of the holder costs clients more than a keepalived stop: said, not refused. */
export const handoverCheck: Check = {
  name: 'shutdown-order',
  async run({ inv, facts }) {
    return inv.lbs.flatMap((lb) => {
      const f = facts.get(lb.name);
      if (!f || handoverOrdered(f)) return [];
      const which = f.systemdVersion === null ? 'kha could not read its systemd version' : `its systemd is ${f.systemdVersion}`;
      return [
        {
          host: lb.name,
          check: 'shutdown-order',
          warning: true as const,
          message: `${which}: at shutdown haproxy's container stops at the same moment as keepalived's, so a reboot of the VIP holder costs clients more than a keepalived stop (systemd ${HANDOVER_MIN_SYSTEMD} or newer lets kha order them; docs/static-pods.md)`,
        },
      ];
    });
  },
};
