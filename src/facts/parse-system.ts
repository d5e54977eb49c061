import { SectionError } from './sections.js';
import type { OsFacts, OsFamily, PackageManager, SelinuxMode } from './types.js';

// Parsers for what the host is: distribution, user, init, package tools,
// SELinux. Each takes the lines of one section and throws SectionError on
// anything it does not recognise.

const DEBIAN_LIKE = new Set(['debian', 'ubuntu']);
const RHEL_LIKE = new Set(['rhel', 'centos', 'rocky', 'almalinux', 'fedora', 'ol']);

/** os-release values: bare, "double-quoted" with backslash escapes, or 'single-quoted'. */
function unquote(raw: string): string {
  if (raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2) return raw.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
  if (raw.startsWith("'") && raw.endsWith("'") && raw.length >= 2) return raw.slice(1, -1);
  return raw;
}

export function parseOsRelease(lines: readonly string[]): OsFacts {
  const vars = new Map<string, string>();
  for (const line of lines) {
    if (line.trimStart().startsWith('#')) continue;
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) throw new SectionError(`not a KEY=value line: "${line}"`);
    vars.set(m[1] ?? '', unquote(m[2] ?? ''));
  }
  const id = vars.get('ID') ?? '';
  const related = [id, ...(vars.get('ID_LIKE') ?? '').split(/\s+/)];
  let family: OsFamily = 'unknown';
  if (related.some((x) => DEBIAN_LIKE.has(x))) family = 'debian';
  else if (related.some((x) => RHEL_LIKE.has(x))) family = 'rhel';
  return { family, id, versionId: vars.get('VERSION_ID') ?? '', prettyName: vars.get('PRETTY_NAME') ?? '' };
}

export function parseUid(lines: readonly string[]): number {
  const [line, ...rest] = lines;
  if (line === undefined || rest.length > 0 || !/^\d+$/.test(line.trim())) {
    throw new SectionError(`expected one numeric uid, got ${JSON.stringify(lines.join('\n'))}`);
  }
  return Number(line.trim());
}

/** systemd's own test (sd_booted) is /run/systemd/system; PID 1's name backs it up. */
export function parseInit(lines: readonly string[]): boolean {
  let systemd = false;
  for (const line of lines) {
    const m = /^(comm|run-systemd)(?: (.*))?$/.exec(line.trim());
    if (!m) throw new SectionError(`unexpected line "${line}"`);
    if (m[1] === 'comm' && m[2] === 'systemd') systemd = true;
    if (m[1] === 'run-systemd' && m[2] === 'yes') systemd = true;
  }
  return systemd;
}

/**
 * RHEL 8+ has both dnf and yum (a symlink to dnf); dnf is the real one.
 * A tool from the other family (rpm tools on Debian) does not count.
 */
export function parsePackageManager(lines: readonly string[], family: OsFamily): PackageManager {
  const found = new Set<string>();
  for (const line of lines) {
    const tool = line.trim();
    if (tool !== 'apt-get' && tool !== 'dnf' && tool !== 'yum') throw new SectionError(`unexpected line "${line}"`);
    found.add(tool);
  }
  const apt = found.has('apt-get');
  const rpmTool: PackageManager | undefined = found.has('dnf') ? 'dnf' : found.has('yum') ? 'yum' : undefined;
  if (family === 'debian') return apt ? 'apt' : 'none';
  if (family === 'rhel') return rpmTool ?? 'none';
  return apt ? 'apt' : (rpmTool ?? 'none');
}

const GETENFORCE: Record<string, SelinuxMode> = { Enforcing: 'enforcing', Permissive: 'permissive', Disabled: 'disabled' };

export function parseSelinux(lines: readonly string[]): { mode: SelinuxMode; booleans: Record<string, boolean> } {
  let fromTool: SelinuxMode | undefined;
  let fromSysfs: SelinuxMode | undefined;
  const booleans: Record<string, boolean> = {};
  for (const line of lines) {
    const tool = /^getenforce (\w+)$/.exec(line.trim());
    const sysfs = /^enforce ([01])$/.exec(line.trim());
    const bool = /^(\S+) --> (on|off)$/.exec(line.trim());
    if (tool) {
      fromTool = GETENFORCE[tool[1] ?? ''];
      if (!fromTool) throw new SectionError(`unknown getenforce answer "${tool[1]}"`);
    } else if (sysfs) {
      fromSysfs = sysfs[1] === '1' ? 'enforcing' : 'permissive';
    } else if (bool) {
      booleans[bool[1] ?? ''] = bool[2] === 'on';
    } else {
      throw new SectionError(`unexpected line "${line}"`);
    }
  }
  return { mode: fromTool ?? fromSysfs ?? 'absent', booleans };
}

/**
 * The installed version from dpkg (only in state "install ok installed":
 * a removed package keeps its version while its config files remain) or rpm.
 */
export function parsePackageVersion(lines: readonly string[]): string | null {
  for (const line of lines) {
    const dpkg = /^dpkg (.*)\|(.*)$/.exec(line.trim());
    const rpm = /^rpm (\S+)$/.exec(line.trim());
    if (dpkg) {
      if (dpkg[1] === 'install ok installed' && dpkg[2]) return dpkg[2];
    } else if (rpm) {
      return rpm[1] ?? null;
    } else if (!/^package \S+ is not installed$/.test(line.trim())) {
      throw new SectionError(`unexpected line "${line}"`);
    }
  }
  return null;
}
