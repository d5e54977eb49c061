import { shellQuote as q } from '../shell/quote.js';
import { SECTION, type SectionKind } from './sections.js';
import type { ProbeRequest } from './types.js';

// One POSIX sh script that reads everything kha needs from a host in one
// round trip. It only reads: no command in it changes the host. A command
// that is missing on a distribution prints nothing (stderr is dropped), and
// the parser reads an absent or empty section as "not there".

/** The packages whose installed versions the probe reports (HostFacts.packages). */
const PROBED_PACKAGES = ['keepalived', 'haproxy'] as const;

/** How long the probe waits for the apiservers to accept a connection. */
const APISERVER_CONNECT_SECONDS = 2;

// sbin is appended, not prepended: a Debian user's PATH may lack it, and
// whatever PATH the host (or sudo's secure_path) sets still comes first.
const PREAMBLE = `# kha facts probe: reads the host, changes nothing.
LC_ALL=C; export LC_ALL
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin; export PATH
has() { command -v "$1" >/dev/null 2>&1; }
section() { if [ $# -gt 1 ]; then printf '\\n@@kha:%s %s@@\\n' "$1" "$2"; else printf '\\n@@kha:%s@@\\n' "$1"; fi; }
kha_cat() { [ -r "$1" ] || return 1; while IFS= read -r kha_l || [ -n "$kha_l" ]; do printf '%s\\n' "$kha_l"; done <"$1"; }
# The lines of $2 whose first word is $1, without it.
kha_pick() {
  while IFS= read -r kha_l; do case $kha_l in "$1 "*) printf '%s\\n' "\${kha_l#"$1 "}" ;; esac; done <<KHA_EOF
$2
KHA_EOF
}
kha_files() {
  kha_n=$#
  kha_stats=$(stat -L -c '%a %U %G %s|%n' -- "$@" 2>/dev/null)
  for kha_f; do
    section ${SECTION.file} "$kha_f"
    kha_meta=
    while IFS='|' read -r kha_m kha_name; do [ "$kha_name" = "$kha_f" ] && kha_meta=$kha_m; done <<KHA_EOF
$kha_stats
KHA_EOF
    [ -n "$kha_meta" ] && printf 'stat %s\\n' "\${kha_meta% *}"
    if [ ! -e "$kha_f" ]; then echo missing
    elif [ ! -f "$kha_f" ]; then echo not-a-file
    elif [ ! -r "$kha_f" ] || [ -z "$kha_meta" ]; then echo unreadable
    else printf 'size %s\\n' "\${kha_meta##* }"; set -- "$@" "$kha_f"
    fi
  done
  shift "$kha_n"
  section ${SECTION.fileContents}
  [ $# -gt 0 ] && cat -- "$@" | base64 -w0
  echo
}
kha_directory() {
  section ${SECTION.directory} "$1"
  if [ -d "$1" ]; then echo yes; else echo no; fi
}
# systemctl show prints one block per unit, in the order asked, with an empty line between.
kha_services() {
  kha_out=$(systemctl show -p LoadState,ActiveState,UnitFileState,MainPID,ActiveEnterTimestampMonotonic -- "$@" 2>/dev/null)
  section ${SECTION.service} "$1"
  while IFS= read -r kha_l; do
    if [ -n "$kha_l" ]; then printf '%s\\n' "$kha_l"
    elif [ $# -gt 1 ]; then shift; section ${SECTION.service} "$1"
    fi
  done <<KHA_EOF
$kha_out
KHA_EOF
  while [ $# -gt 1 ]; do shift; section ${SECTION.service} "$1"; done
}
kha_sysctl() {
  section ${SECTION.sysctl} "$1"
  if kha_v=$(sysctl -n "$1" 2>/dev/null); then printf 'value %s\\n' "$kha_v"; else echo missing; fi
}
# What listens on TCP port $1, with the systemd unit of the process (from its
# cgroup), and \`own\` when its command line names $2 (a static pod has no unit).
kha_listener() {
  section ${SECTION.listener} "$1"
  has ss || { echo unavailable; return; }
  ss -ltnp "sport = :$1" 2>/dev/null | while read -r kha_state kha_rq kha_sq kha_local kha_peer kha_procs; do
    [ "$kha_state" = LISTEN ] || continue
    kha_unit=-
    kha_own=-
    case $kha_procs in
      *pid=*)
        kha_pid=\${kha_procs#*pid=}; kha_pid=\${kha_pid%%,*}
        if [ -r "/proc/$kha_pid/cgroup" ]; then
          while IFS= read -r kha_c; do case $kha_c in *.service) kha_unit=\${kha_c##*/} ;; esac; done <"/proc/$kha_pid/cgroup"
        fi
        if [ -n "$2" ] && tr '\\0' ' ' <"/proc/$kha_pid/cmdline" 2>/dev/null | grep -qF -- "$2"; then kha_own=own; fi ;;
    esac
    printf 'listen %s %s %s\n' "$kha_local" "$kha_unit" "$kha_own"
  done
}
kha_packages() {
  kha_out=
  has dpkg-query && kha_out=$(dpkg-query -W -f='\${Package} dpkg \${Status}|\${Version}\\n' -- "$@" 2>/dev/null)
  has rpm && kha_out="$kha_out
$(rpm -q --qf '%{NAME} rpm %{VERSION}-%{RELEASE}\\n' -- "$@" 2>/dev/null)"
  for kha_p; do section ${SECTION.package} "$kha_p"; kha_pick "$kha_p" "$kha_out"; done
}`;

function header(kind: SectionKind): string {
  return `section ${kind}`;
}

function system(): string {
  return `${header(SECTION.osRelease)}
kha_cat /etc/os-release || kha_cat /usr/lib/os-release
${header(SECTION.uid)}
id -u
${header(SECTION.init)}
kha_comm=
[ -r /proc/1/comm ] && read -r kha_comm </proc/1/comm
printf 'comm %s\\n' "$kha_comm"
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
  // The holder's route to its own VIP is `local ... dev lo`: the interface
  // that matters (for the firewalld zone) is then the one with the address.
  // Shell expansions rather than sed and awk: each fork counts on a busy host.
  return `${header(SECTION.route)}
kha_route=$(ip -o route get ${q(vip)} 2>/dev/null)
printf '%s\\n' "$kha_route"
kha_addresses=$(ip -o -4 addr 2>/dev/null)
kha_dev=
case $kha_route in
  local*)
    while read -r kha_i kha_name kha_family kha_cidr kha_rest; do
      [ "$kha_name" != lo ] && [ "\${kha_cidr%/*}" = ${q(vip)} ] && { kha_dev=$kha_name; break; }
    done <<KHA_EOF
$kha_addresses
KHA_EOF
    ;;
  *" dev "*) kha_dev=\${kha_route#* dev }; kha_dev=\${kha_dev%% *} ;;
esac`;
}

function firewall(): string {
  // The zone that matters is the one of the interface carrying the VIP: a
  // rule added to the default zone does nothing for an interface elsewhere.
  // Runtime and permanent rules are both listed: a runtime-only rule is gone
  // after the next reboot or reload. firewall-cmd starts Python each time
  // (up to a second on a small VM), so it is asked four things, no more:
  // --get-default-zone fails when firewalld is not running, and --list-all
  // carries ports, protocols and rich rules at once.
  return `${header(SECTION.firewalld)}
if has firewall-cmd; then
  echo 'installed yes'
  kha_default=$(firewall-cmd --get-default-zone 2>/dev/null)
  if [ -n "$kha_default" ]; then
    echo 'state running'
    kha_zone=
    [ -n "$kha_dev" ] && kha_zone=$(firewall-cmd --get-zone-of-interface="$kha_dev" 2>/dev/null)
    kha_zone=\${kha_zone:-$kha_default}
    printf 'default-zone %s\\nzone %s\\n' "$kha_default" "$kha_zone"
    ${header(SECTION.firewalldRuntime)}
    firewall-cmd --zone="$kha_zone" --list-all 2>/dev/null
    ${header(SECTION.firewalldPermanent)}
    firewall-cmd --permanent --zone="$kha_zone" --list-all 2>/dev/null
  else
    echo 'state not running'
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
printf '%s\\n' "$kha_addresses"`;
}

/**
 * Can this host open a TCP connection to each apiserver? All at once, in
 * one bash (its /dev/tcp is the one connect tool every distribution has),
 * so a master that drops packets costs the timeout once, not per master.
 */
function apiservers(targets: ProbeRequest['apiservers']): string {
  const connects = targets.map((t) => `(exec 3<>/dev/tcp/${t.address}/${t.port}) 2>/dev/null && echo ${q(`ok ${t.name}`)} &`);
  return `${header(SECTION.apiservers)}
if has bash; then timeout ${APISERVER_CONNECT_SECONDS} bash -c ${q([...connects, 'wait'].join('\n'))} 2>/dev/null; else echo unavailable; fi`;
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
  assertPrintable('package', req.packages ?? []);
  for (const p of req.ports ?? []) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`cannot probe port ${p}`);
  assertPrintable('sysctl', req.sysctls);
  assertPrintable('SELinux boolean', req.selinuxBooleans);
  if (req.vip !== undefined) assertPrintable('VIP', [req.vip]);
  assertPrintable('owner', req.portsOwner === undefined ? [] : [req.portsOwner]);
  assertPrintable('apiserver', req.apiservers.flatMap((a) => [a.name, a.address]));
  for (const a of req.apiservers) {
    // They go into a /dev/tcp path: an address and a port, nothing a shell could read otherwise.
    if (!/^[0-9A-Za-z.:-]+$/.test(a.address) || !Number.isInteger(a.port)) throw new Error(`cannot probe apiserver ${a.name} at ${JSON.stringify(a.address)}:${a.port}`);
  }
  return [
    PREAMBLE,
    system(),
    selinux(req.selinuxBooleans),
    ...(req.vip === undefined ? [] : [route(req.vip)]),
    firewall(),
    network(),
    `kha_packages ${[...new Set([...PROBED_PACKAGES, ...(req.packages ?? [])])].map(q).join(' ')}`,
    `kha_files ${req.files.map(q).join(' ')}`,
    ...req.directories.map((d) => `kha_directory ${q(d)}`),
    ...(req.services.length > 0 ? [`kha_services ${req.services.map(q).join(' ')}`] : []),
    ...req.sysctls.map((k) => `kha_sysctl ${q(k)}`),
    ...(req.ports ?? []).map((p) => `kha_listener ${p} ${q(req.portsOwner ?? '')}`),
    apiservers(req.apiservers),
    header(SECTION.end),
    '',
  ].join('\n');
}
