import { shellQuote as q } from '../transport/shell-quote.js';
import { SECTION, type SectionKind } from './sections.js';
import type { ProbeRequest } from './types.js';

// One POSIX sh script that reads everything kha needs from a host in one
// round trip. It only reads: no command in it changes the host. A command
// that is missing on a distribution prints nothing (stderr is dropped), and
// the parser reads an absent or empty section as "not there".

/** The packages whose installed versions the probe reports (HostFacts.packages). */
const PROBED_PACKAGES = ['keepalived', 'haproxy'] as const;

// sbin is appended, not prepended: a Debian user's PATH may lack it, and
// whatever PATH the host (or sudo's secure_path) sets still comes first.
const PREAMBLE = `# kha facts probe: reads the host, changes nothing.
LC_ALL=C; export LC_ALL
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin; export PATH
has() { command -v "$1" >/dev/null 2>&1; }
section() { if [ $# -gt 1 ]; then printf '\\n@@kha:%s %s@@\\n' "$1" "$2"; else printf '\\n@@kha:%s@@\\n' "$1"; fi; }
kha_file() {
  section ${SECTION.file} "$1"
  if [ -e "$1" ]; then printf 'stat %s\\n' "$(stat -L -c '%a %U %G' "$1" 2>/dev/null)"; fi
  if [ ! -e "$1" ]; then echo missing
  elif [ ! -f "$1" ]; then echo not-a-file
  elif [ ! -r "$1" ]; then echo unreadable
  else printf 'content '; base64 -w0 <"$1"; echo
  fi
}
kha_directory() {
  section ${SECTION.directory} "$1"
  if [ -d "$1" ]; then echo yes; else echo no; fi
}
kha_service() {
  section ${SECTION.service} "$1"
  systemctl show "$1" -p LoadState,ActiveState,UnitFileState,MainPID,ActiveEnterTimestampMonotonic 2>/dev/null
}
kha_sysctl() {
  section ${SECTION.sysctl} "$1"
  if kha_v=$(sysctl -n "$1" 2>/dev/null); then printf 'value %s\\n' "$kha_v"; else echo missing; fi
}
kha_package() {
  section ${SECTION.package} "$1"
  has dpkg-query && dpkg-query -W -f='dpkg \${Status}|\${Version}\\n' "$1" 2>/dev/null
  has rpm && rpm -q --qf 'rpm %{VERSION}-%{RELEASE}\\n' "$1" 2>/dev/null
}`;

function header(kind: SectionKind): string {
  return `section ${kind}`;
}

function system(): string {
  return `${header(SECTION.osRelease)}
cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
${header(SECTION.uid)}
id -u
${header(SECTION.init)}
printf 'comm %s\\n' "$(cat /proc/1/comm 2>/dev/null)"
if [ -d /run/systemd/system ]; then echo 'run-systemd yes'; else echo 'run-systemd no'; fi
${header(SECTION.packageManagers)}
for c in apt-get dnf yum; do has "$c" && echo "$c"; done`;
}

function selinux(booleans: readonly string[]): string {
  const perBoolean = booleans.map((b) => `  getsebool ${q(b)} 2>/dev/null`).join('\n');
  // /sys/fs/selinux/enforce answers even where getenforce is not installed.
  return `${header(SECTION.selinux)}
has getenforce && printf 'getenforce %s\\n' "$(getenforce 2>/dev/null)"
[ -r /sys/fs/selinux/enforce ] && printf 'enforce %s\\n' "$(cat /sys/fs/selinux/enforce 2>/dev/null)"
if has getsebool; then
${perBoolean || '  :'}
fi`;
}

function route(vip: string): string {
  // The holder's route to its own VIP is `local ... dev lo`; the interface
  // that matters (for the firewalld zone) is then the one with the address.
  return `${header(SECTION.route)}
kha_route=$(ip -o route get ${q(vip)} 2>/dev/null)
printf '%s\\n' "$kha_route"
case $kha_route in
  local*) kha_dev=$(ip -o -4 addr 2>/dev/null | awk -v vip=${q(vip)} '$2 != "lo" { split($4, a, "/"); if (a[1] == vip) { print $2; exit } }') ;;
  *) kha_dev=$(printf '%s\\n' "$kha_route" | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p' | head -n 1) ;;
esac`;
}

function firewall(): string {
  // The zone that matters is the one of the interface carrying the VIP: a
  // rule added to the default zone does nothing for an interface elsewhere.
  // Runtime and permanent rules are both listed: a runtime-only rule is gone
  // after the next reboot or reload.
  const list = (kind: SectionKind, flag: string, permanent: boolean): string =>
    `    ${header(kind)}\n    firewall-cmd${permanent ? ' --permanent' : ''} --zone="$kha_zone" ${flag} 2>/dev/null`;
  return `${header(SECTION.firewalld)}
if has firewall-cmd; then
  echo 'installed yes'
  kha_state=$(firewall-cmd --state 2>/dev/null)
  printf 'state %s\\n' "\${kha_state:-not running}"
  if [ "$kha_state" = running ]; then
    kha_default=$(firewall-cmd --get-default-zone 2>/dev/null)
    kha_zone=
    [ -n "$kha_dev" ] && kha_zone=$(firewall-cmd --get-zone-of-interface="$kha_dev" 2>/dev/null)
    kha_zone=\${kha_zone:-$kha_default}
    printf 'default-zone %s\\nzone %s\\n' "$kha_default" "$kha_zone"
${list(SECTION.firewalldPorts, '--list-ports', false)}
${list(SECTION.firewalldRichRules, '--list-rich-rules', false)}
${list(SECTION.firewalldProtocols, '--list-protocols', false)}
${list(SECTION.firewalldPermanentPorts, '--list-ports', true)}
${list(SECTION.firewalldPermanentRichRules, '--list-rich-rules', true)}
${list(SECTION.firewalldPermanentProtocols, '--list-protocols', true)}
  fi
else
  echo 'installed no'
fi
if has ufw; then
  ${header(SECTION.ufwStatus)}
  ufw status 2>/dev/null
  ${header(SECTION.ufwAdded)}
  ufw show added 2>/dev/null
fi`;
}

function network(): string {
  return `${header(SECTION.links)}
ip -o link 2>/dev/null
${header(SECTION.addresses)}
ip -o -4 addr 2>/dev/null`;
}

function assertPrintable(what: string, values: readonly string[]): void {
  // Items are echoed in section headers, one line each.
  for (const v of values) {
    if (v === '' || /[\n\r\0]/.test(v)) throw new Error(`cannot probe ${what} ${JSON.stringify(v)}: empty or contains a line break`);
  }
}

export function probeScript(req: ProbeRequest): string {
  assertPrintable('file', req.files);
  assertPrintable('directory', req.directories);
  assertPrintable('service', req.services);
  assertPrintable('sysctl', req.sysctls);
  assertPrintable('SELinux boolean', req.selinuxBooleans);
  assertPrintable('VIP', [req.vip]);
  return [
    PREAMBLE,
    system(),
    selinux(req.selinuxBooleans),
    route(req.vip),
    firewall(),
    network(),
    ...PROBED_PACKAGES.map((p) => `kha_package ${q(p)}`),
    ...req.files.map((f) => `kha_file ${q(f)}`),
    ...req.directories.map((d) => `kha_directory ${q(d)}`),
    ...req.services.map((u) => `kha_service ${q(u)}`),
    ...req.sysctls.map((k) => `kha_sysctl ${q(k)}`),
    header(SECTION.end),
    '',
  ].join('\n');
}
