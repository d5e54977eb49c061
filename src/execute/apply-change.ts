import { HostError } from '../errors.js';
import type { Change, Marker, ServiceName } from '../plan/changes.js';
import { uncheckedReasons, validateCommand } from '../render/validators.js';
import { redactRemote } from '../secret.js';
import type { Session } from '../transport/session.js';
import { shellQuote as q } from '../shell/quote.js';
import { markerPath, NOT_LOADED } from '../tasks/services.js';
import { podProcess, podProcessLines, podProcessScript } from '../observe/pod-processes.js';

// The one way each kind of change is carried out. Every step is atomic on
// the host (rename, a single systemctl call), so an interruption leaves a
// file either old or new, never half-written.

/** The services whose loaded configuration kha records in a marker (tasks/services.ts markerPath). */
const MARKED: readonly ServiceName[] = ['keepalived', 'haproxy', 'kha-node-proxy'];
/** The services whose files written in this run are put back when they fail to take them, or when the run stops first. */
const HELD_BACK: readonly ServiceName[] = [...MARKED, 'kubelet', 'kube-proxy'];

/**
 * Files of keepalived and haproxy replaced in this run and not yet loaded,
 * so a failed reload can put them back. (sysctl, firewall and systemd files
 * take effect as they are written and are not held back.)
 */
export class Rollback {
  private readonly saved = new Map<string, { path: string; backup: string | null }[]>();

  record(service: string, path: string, backup: string | null): void {
    const list = this.saved.get(service) ?? [];
    if (!list.some((e) => e.path === path)) list.push({ path, backup });
    this.saved.set(service, list);
  }

  take(service: string): { path: string; backup: string | null }[] {
    const list = this.saved.get(service) ?? [];
    this.saved.delete(service);
    return list;
  }

  /** The service has loaded its new files: they are no longer this run's to undo. */
  commit(service: string): void {
    this.saved.delete(service);
  }

  /**
   * The host passed its gate: what it runs now is accepted, files no service
   * reloads included (a static pod's, which its kubelet reads), so a stop
   * later in the run leaves them in place.
   */
  commitAll(): void {
    this.saved.clear();
  }

  /** Every file written in this run that no service has loaded yet. */
  pending(): { path: string; backup: string | null }[] {
    return [...this.saved.values()].flat();
  }
}

/**
 * A run that stops (a failure elsewhere, Ctrl-C) puts back the files it wrote
 * but no service loaded, so no host is left with configuration on disk that
 * differs from what runs. Returns the paths put back.
 */
export async function putBackPending(session: Session, rollback: Rollback): Promise<string[]> {
  const files = rollback.pending();
  if (files.length === 0) return [];
  await run(session, 'put back unloaded files', putBackCommand(files));
  for (const s of HELD_BACK) rollback.take(s);
  return files.map((e) => e.path);
}

/** Each file's previous version back in place (a new file removed); systemd reads a unit's drop-ins again only when told. */
export function putBackCommand(files: readonly { path: string; backup: string | null }[]): string {
  const moves = files.map((e) => (e.backup ? `mv -f ${q(e.backup)} ${q(e.path)}` : `rm -f ${q(e.path)}`)).join(' && ');
  return files.some((e) => e.path.startsWith('/etc/systemd/')) ? `${moves} && systemctl daemon-reload` : moves;
}

export const BACKUP_SUFFIX = '.kha-bak';

/**
 * Where a file's previous version is kept: beside it, or, in a kubelet's
 * staticPodPath, as a dotfile beside it: the kubelet takes every other file
 * there for a Pod, and would run the old one too.
 */
export function backupPath(path: string, hidden = false): string {
  if (!hidden) return `${path}${BACKUP_SUFFIX}`;
  const slash = path.lastIndexOf('/');
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}${BACKUP_SUFFIX}`;
}

/** How long the kubelet has to stop a pod whose manifest went: it watches the directory, and looks again every 20 s at most. */
const POD_STOP_TIMEOUT_MS = 60_000;
const PACKAGE_TIMEOUT_MS = 15 * 60_000;
const SERVICE_TIMEOUT_MS = 90_000;
/** A validator may pull the image that checks the file (static pods) before it runs: minutes on a slow link. */
const VALIDATE_TIMEOUT_MS = 5 * 60_000;

/** The end of what a host printed, as it may reach the user: a validator echoes the line it rejects, password included. */
function tail(text: string, lines = 12): string {
  return redactRemote(text.trim().split('\n').slice(-lines).join('\n'));
}

async function run(session: Session, step: string, command: string, timeoutMs = 60_000): Promise<string> {
  const r = await session.exec(command, { timeoutMs });
  if (r.code !== 0) {
    throw new HostError(session.host, step, `\`${command.split('\n')[0]}\` failed (exit ${r.code}): ${tail(r.stderr || r.stdout) || 'no output'}`);
  }
  return r.stdout;
}

function installCommand(c: Extract<Change, { kind: 'package.install' }>): string {
  const pkgs = c.packages.map(q).join(' ');
  switch (c.manager) {
    case 'apt':
      // Stale or missing package lists are the usual reason an install cannot
      // find a package (fresh images ship none): update once and try again.
      return [
        'export DEBIAN_FRONTEND=noninteractive',
        `apt-get install -y -q --no-install-recommends ${pkgs} || { apt-get update -q && apt-get install -y -q --no-install-recommends ${pkgs}; }`,
      ].join('\n');
    case 'dnf':
      return `dnf install -y ${pkgs}`;
    case 'yum':
      return `yum install -y ${pkgs}`;
    case 'none':
      throw new Error('no package manager (preflight should have stopped here)');
  }
}

/**
 * The backup of the file being replaced. It is made anew each time (an old
 * backup is removed, never rewritten in place) and private from its first
 * byte: a file that holds a secret keeps 0600 even when the file it copies
 * was readable by all (a hand-written keepalived.conf at 0644); any other
 * file then takes the mode of the one it copies, so putting it back restores
 * that mode too.
 */
function backupCommand(c: Extract<Change, { kind: 'file.write' }>, backup: string): string {
  const steps = [`rm -f ${q(backup)}`, `(umask 077 && cp ${q(c.path)} ${q(backup)})`];
  if (!c.secret) steps.push(`chmod --reference=${q(c.path)} ${q(backup)}`);
  return steps.join(' && ');
}

/** Said when a validator could not check a file and it went in all the same (validators.ts UNCHECKED_MARK). */
export type UncheckedListener = (path: string, reason: string) => void;

async function writeFile(session: Session, c: Extract<Change, { kind: 'file.write' }>, rollback: Rollback, unchecked: UncheckedListener): Promise<void> {
  if (c.modeOnly) {
    await run(session, `chmod ${c.path}`, `chmod ${c.mode.toString(8)} ${q(c.path)}`);
    return;
  }
  const dir = c.path.slice(0, c.path.lastIndexOf('/')) || '/';
  const candidate = `${dir}/.kha-new.${c.path.slice(dir.length + 1)}`;
  await run(session, `mkdir ${dir}`, `mkdir -p ${q(dir)}`);
  await session.put(candidate, c.content, { mode: c.mode, owner: 'root', group: 'root' });
  if (c.validate !== undefined) {
    const r = await session.exec(validateCommand(c.validate, candidate), { timeoutMs: VALIDATE_TIMEOUT_MS }).catch(async (e: unknown) => {
      // A validator past its time limit: the candidate must not stay behind.
      await session.exec(`rm -f ${q(candidate)}`).catch(() => undefined);
      throw e;
    });
    if (r.code !== 0) {
      await session.exec(`rm -f ${q(candidate)}`);
      throw new HostError(
        session.host,
        `validate ${c.path}`,
        `the new ${c.path} was rejected by its validator, so it was not installed and the host is unchanged:\n${tail(r.stderr || r.stdout)}`,
      );
    }
    for (const reason of uncheckedReasons(r.stdout)) unchecked(c.path, redactRemote(reason));
  }
  const backup = c.previous === null ? null : backupPath(c.path, c.hiddenBackup);
  const keep = backup ? `${backupCommand(c, backup)} && ` : '';
  // The service has not loaded this file yet: forget the digest it had
  // loaded, so that if kha stops before the reload, the next run still
  // reloads. The rest of the marker stays true (keepalived's VRRP group is
  // the one it runs): a stage that plans again must not take a backup for
  // one in an unknown group and stop it, which the plan shown did not do.
  const marker = (MARKED as readonly string[]).includes(c.service) ? q(markerPath(c.service as ServiceName)) : undefined;
  const forget = marker ? `{ [ ! -f ${marker} ] || sed -i '1c ${NOT_LOADED}' ${marker}; } && ` : '';
  const owe = c.restartPending ? `touch ${q(c.restartPending)} && ` : '';
  await run(session, `install ${c.path}`, `${keep}${forget}${owe}mv -f ${q(candidate)} ${q(c.path)}`);
  if ((HELD_BACK as readonly string[]).includes(c.service)) rollback.record(c.service, c.path, backup);
}

/** Moved aside, never deleted: `<file>.kha-bak` (or its hidden form) holds it, as a replaced file's backup does. */
function moveAside(path: string, backup: string): string {
  return `if [ -e ${q(path)} ]; then rm -f ${q(backup)} && mv -f ${q(path)} ${q(backup)}; fi`;
}

/**
 * A static pod's manifest moved aside, then wait until the kubelet has
 * stopped the pod: whatever runs next on the host (the proxy as a service)
 * would find its ports taken, or, with haproxy's SO_REUSEPORT, share them
 * unseen. Not stopped in time: the manifest is put back and the host fails.
 */
async function removePod(session: Session, c: Extract<Change, { kind: 'pod.remove' }>): Promise<void> {
  const backup = backupPath(c.manifest, true);
  await run(session, `remove ${c.manifest}`, moveAside(c.manifest, backup));
  const until = Date.now() + POD_STOP_TIMEOUT_MS;
  for (;;) {
    const lines = podProcessLines((await session.exec(podProcessScript(c.pods), { timeoutMs: 15_000 })).stdout);
    if (!c.pods.some((p) => podProcess(lines, p.key).running)) return;
    if (Date.now() > until) break;
    await new Promise((done) => setTimeout(done, 500));
  }
  await session.exec(`[ -e ${q(c.manifest)} ] || mv -f ${q(backup)} ${q(c.manifest)}`);
  throw new HostError(
    session.host,
    `remove ${c.manifest}`,
    `${c.name} still runs ${POD_STOP_TIMEOUT_MS / 1000} s after kha moved its manifest aside, so kha put it back: is the kubelet running (systemctl status kubelet; crictl ps)?`,
  );
}

async function writeMarker(session: Session, marker: Marker): Promise<void> {
  await session.put(marker.path, marker.digest, { mode: 0o600, owner: 'root', group: 'root' });
}

async function journalTail(session: Session, service: ServiceName): Promise<string> {
  const r = await session.exec(`journalctl -u ${service} -n 8 --no-pager -o cat 2>/dev/null || systemctl status ${service} --no-pager 2>&1 | tail -n 8`);
  return tail(r.stdout, 8);
}

/**
 * haproxy runs as a master with workers; a reload only signals the master,
 * which keeps the old worker serving if the new configuration fails to load
 * (a port already taken passes `haproxy -c`). So a reload counts only once a
 * new worker runs. POSIX sh and /proc: minimal images have no pgrep.
 */
function haproxyReloadConfirmed(): string {
  return [
    'm=$(systemctl show -p MainPID --value haproxy)',
    'workers() { for d in /proc/[0-9]*; do [ "$(awk \'/^PPid:/{print $2}\' "$d/status" 2>/dev/null)" = "$m" ] && echo "${d#/proc/}"; done; }',
    'before=" $(workers | tr \'\\n\' \' \')"',
    'systemctl reload haproxy || exit 1',
    'for i in $(seq 1 50); do',
    '  for w in $(workers); do case "$before" in *" $w "*) ;; *) exit 0 ;; esac; done',
    '  sleep 0.1',
    'done',
    'echo "haproxy did not start a worker on the new configuration" >&2',
    'exit 1',
  ].join('\n');
}

function serviceCommand(service: ServiceName, verb: 'restart' | 'reload'): string {
  if (service === 'haproxy' && verb === 'reload') return haproxyReloadConfirmed();
  return `systemctl ${verb} ${service} && sleep 0.3 && systemctl is-active --quiet ${service}`;
}

/**
 * Starting, reloading or restarting a service; when it fails, the files
 * written for it in this run are put back and the service is reloaded (or
 * restarted) on them the same way.
 */
async function serviceAction(
  session: Session,
  service: ServiceName,
  verb: 'restart' | 'reload',
  marker: Marker | undefined,
  rollback: Rollback,
): Promise<void> {
  const r = await session.exec(serviceCommand(service, verb), { timeoutMs: SERVICE_TIMEOUT_MS });
  if (r.code === 0) {
    if (marker) await writeMarker(session, marker);
    rollback.commit(service);
    return;
  }
  const why = tail(`${r.stderr}\n${await journalTail(session, service)}`, 10);
  const restored = rollback.take(service);
  if (restored.length === 0) {
    throw new HostError(session.host, `${verb} ${service}`, `systemctl ${verb} ${service} failed; nothing of this run to put back:\n${why}`);
  }
  const back = await session.exec(`${putBackCommand(restored)} && { ${serviceCommand(service, verb)}; }`, { timeoutMs: SERVICE_TIMEOUT_MS });
  const outcome = back.code === 0 ? `${service} runs on the previous files again` : `${service} did not take the previous files either: check it now`;
  throw new HostError(
    session.host,
    `${verb} ${service}`,
    `the new configuration did not load, so kha put back ${restored.map((e) => e.path).join(', ')}: ${outcome}.\n${why}`,
  );
}

export async function applyChange(session: Session, c: Change, rollback: Rollback, unchecked: UncheckedListener = () => undefined): Promise<void> {
  switch (c.kind) {
    case 'package.install':
      await run(session, 'install packages', installCommand(c), PACKAGE_TIMEOUT_MS);
      return;
    case 'selinux.boolean':
      await run(session, `selinux ${c.name}`, `setsebool -P ${q(c.name)} ${c.value ? 'on' : 'off'}`, 120_000);
      return;
    case 'selinux.permissive':
      await run(
        session,
        'selinux permissive',
        `setenforce 0; sed -i 's/^SELINUX=.*/SELINUX=permissive/' /etc/selinux/config && grep -q '^SELINUX=permissive' /etc/selinux/config`,
      );
      return;
    case 'firewalld.rule': {
      const arg = c.rule.type === 'port' ? `--add-port=${c.rule.port}/${c.rule.protocol}` : `--add-rich-rule=${q(c.rule.text)}`;
      // Permanent for the next boot, runtime for now: no --reload, which would drop runtime-only state.
      await run(session, 'firewalld', `firewall-cmd --permanent --zone=${q(c.zone)} ${arg} && firewall-cmd --zone=${q(c.zone)} ${arg}`);
      return;
    }
    case 'ufw.allow':
      await run(session, 'ufw', `ufw allow ${q(c.rule)}`);
      return;
    case 'ufw.reload':
      await run(session, 'ufw', 'ufw reload');
      return;
    case 'directory.create':
      await run(session, `mkdir ${c.path}`, `install -d -m ${c.mode.toString(8)} -o ${q(c.owner)} -g ${q(c.group)} ${q(c.path)}`);
      return;
    case 'file.write':
      await writeFile(session, c, rollback, unchecked);
      return;
    case 'file.remove':
      await run(session, `remove ${c.path}`, moveAside(c.path, backupPath(c.path)));
      return;
    case 'pod.remove':
      await removePod(session, c);
      return;
    case 'sysctl.load':
      await run(session, 'sysctl', `sysctl -q -p ${q(c.path)}`);
      return;
    case 'systemd.daemon-reload':
      await run(session, 'systemd', 'systemctl daemon-reload');
      return;
    case 'service.enable':
      // --no-reload: enabling only links the unit for the next boot, which reads the links itself; the reload
      // systemctl would do here costs systemd a re-read of every unit (a changed unit got its own daemon-reload).
      await run(session, `enable ${c.service}`, `systemctl enable --no-reload --quiet ${c.service}`);
      return;
    case 'service.start':
      // restart, not start: a package install may have started the service
      // already, on its default configuration.
      await serviceAction(session, c.service, 'restart', c.marker, rollback);
      return;
    case 'service.reload':
      await serviceAction(session, c.service, 'reload', c.marker, rollback);
      return;
    case 'service.stop':
      await run(session, `stop ${c.service}`, `systemctl stop ${c.service} && rm -f ${q(markerPath(c.service))}`, SERVICE_TIMEOUT_MS);
      return;
    case 'service.restart':
      await serviceAction(session, c.service, 'restart', undefined, rollback);
      if (c.pending) await run(session, `restart ${c.service}`, `rm -f ${q(c.pending)}`);
      return;
    case 'service.disable':
      await run(session, `disable ${c.service}`, `systemctl disable --no-reload --now --quiet ${c.service}`, SERVICE_TIMEOUT_MS);
      return;
    case 'vip.handover':
      await run(session, `hand ${c.vip} over`, `${q(c.script)} move`, SERVICE_TIMEOUT_MS);
      return;
  }
}
