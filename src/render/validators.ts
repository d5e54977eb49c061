// The shell commands that check a candidate file on the host before it is
// swapped in (validate before swap, docs/architecture.md). They run remotely, so they are
// plain POSIX sh; `{file}` is replaced by the quoted candidate path.

import { shellQuote } from '../shell/quote.js';

/**
 * keepalived 2.2.7 (Debian 12) SIGTERMs itself (exit 143) while testing a
 * configuration whose scripts run as `script_user`, after printing what it
 * found so far and before later checks (acassen/keepalived#2587, fixed in
 * 2.2.8). On 143 the copy without the two script-security lines is tested
 * instead: there keepalived reports every problem, and the only expected
 * complaint is the security warning itself (exit 6). keepalived before 2.0
 * (CentOS 7 ships 1.3.5) has no config test at all: there the file cannot be
 * checked before the swap, and a failed reload puts the old one back.
 */
export const KEEPALIVED_VALIDATE = [
  "keepalived --help 2>&1 | grep -q -- '--config-test' || exit 0",
  // The copy holds the VRRP password: private from its first byte (umask),
  // and removed however the test ends, a time limit's SIGTERM included. A
  // copy left by a SIGKILL is private too, and removed by the next test.
  't={file}.t',
  'trap \'rm -f "$t"\' EXIT',
  "trap 'exit 143' HUP INT TERM",
  'rm -f "$t"',
  'out=$(keepalived -t -f {file} 2>&1); rc=$?',
  '[ "$rc" -eq 0 ] && exit 0',
  'if [ "$rc" -eq 143 ]; then',
  "  (umask 077 && sed -e '/^[[:space:]]*enable_script_security/d' -e '/^[[:space:]]*script_user/d' {file} > \"$t\") || exit 1",
  '  out=$(keepalived -t -f "$t" 2>&1); rc=$?; rm -f "$t"',
  "  out=$(printf '%s\\n' \"$out\" | grep -v 'SECURITY VIOLATION - scripts are being executed but script_security not enabled' | grep -v '^$')",
  '  if [ -z "$out" ] && { [ "$rc" -eq 0 ] || [ "$rc" -eq 6 ]; }; then exit 0; fi',
  'fi',
  "printf '%s\\n' \"$out\" >&2",
  'exit 1',
].join('\n');

export const HAPROXY_VALIDATE = 'haproxy -c -q -f {file}';

/** nginx's own test of a whole configuration (the local proxy's, docs/node-proxy.md); -q prints only problems. */
export const NGINX_VALIDATE = 'nginx -t -q -c {file}';

export const BASH_SYNTAX = 'bash -n {file}';

export function validateCommand(template: string, file: string): string {
  return template.replaceAll('{file}', shellQuote(file));
}

/**
 * A validator that prints a line starting with this and exits 0 could not
 * check the file and says why (`kha-unchecked: reason`): apply installs the
 * file and reports the reason as a warning (execute/apply-change.ts).
 */
export const UNCHECKED_MARK = 'kha-unchecked: ';

/** The lines a validator said it could not check, without the mark. */
export function uncheckedReasons(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith(UNCHECKED_MARK))
    .map((l) => l.slice(UNCHECKED_MARK.length).trim());
}

/**
 * The reference as every runtime reads it: `haproxy:2.8` is
 * `docker.io/library/haproxy:2.8` to the kubelet and to docker, but ctr and
 * podman (with short-name resolution enforcing) take only the full name. A
 * first component without '.' or ':' (and not localhost) is a Docker Hub path.
 */
export function qualifiedImage(ref: string): string {
  const slash = ref.indexOf('/');
  const first = slash < 0 ? '' : ref.slice(0, slash);
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) return ref;
  return slash < 0 ? `docker.io/library/${ref}` : `docker.io/${ref}`;
}

/**
 * A validator run by the binary that will read the file: `inner` (sh, the
 * candidate is "$1") runs inside `image`, through whichever container runtime
 * the host has, tried in this order: podman, nerdctl, ctr (containerd, what
 * kubeadm hosts usually have; namespace k8s.io, the kubelet's), docker. The
 * candidate's directory is mounted at the same path, read-write (keepalived's
 * retest writes a private copy beside the candidate, see KEEPALIVED_VALIDATE),
 * with the host's network (keepalived checks that the interface exists) and
 * as root (as the pods run). An image that is not on the host is pulled, as
 * the kubelet would; if that fails the image is not there for the kubelet
 * either, and the error says how to preload it. With no runtime answering,
 * the host's own `binary` checks it if there is one, else the file goes in
 * unchecked: both are said (UNCHECKED_MARK), never passed over in silence.
 * ctr runs the image's own user (it is not told --user): the haproxy image's
 * user reads haproxy.cfg (0644), and keepalived images run as root.
 */
export function inImageValidate(image: string, binary: string, inner: string): string {
  const img = shellQuote(qualifiedImage(image));
  const preload = `ctr -n k8s.io images import FILE.tar, or podman load -i FILE.tar, on each master`;
  const pull = (what: string, cmd: string) => `{ out=$(${cmd} 2>&1) || missing ${shellQuote(what)} "$out"; }`;
  return [
    `img=${img}`,
    'f={file}',
    'd=$(dirname "$f")',
    `inner=${shellQuote(inner)}`,
    'missing() {',
    `  printf '%s\\n' "the image $img is not on $(hostname) and $1 failed: the kubelet could not start the pod either. Preload it (${preload}) or name an image from a registry the host reaches. $1 said: $(printf '%s' "$2" | tail -n 3)" >&2`,
    '  exit 1',
    '}',
    'if command -v podman >/dev/null 2>&1; then',
    `  podman image exists "$img" || ${pull('podman pull', 'podman pull -q "$img"')}`,
    '  exec podman run --rm --network host --user 0 --security-opt label=disable -v "$d:$d" --entrypoint sh "$img" -c "$inner" sh "$f"',
    'elif command -v nerdctl >/dev/null 2>&1 && nerdctl -n k8s.io info >/dev/null 2>&1; then',
    `  nerdctl -n k8s.io image inspect "$img" >/dev/null 2>&1 || ${pull('nerdctl pull', 'nerdctl -n k8s.io pull -q "$img"')}`,
    '  exec nerdctl -n k8s.io run --rm --net host --user 0 --security-opt label=disable -v "$d:$d" --entrypoint sh "$img" -c "$inner" sh "$f"',
    'elif command -v ctr >/dev/null 2>&1 && ctr -n k8s.io version >/dev/null 2>&1; then',
    `  ctr -n k8s.io images ls -q | grep -qxF "$img" || ${pull('ctr images pull', 'ctr -n k8s.io images pull "$img"')}`,
    '  exec ctr -n k8s.io run --rm --net-host --mount "type=bind,src=$d,dst=$d,options=rbind:rw" "$img" "kha-validate-$$" sh -c "$inner" sh "$f"',
    'elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then',
    `  docker image inspect "$img" >/dev/null 2>&1 || ${pull('docker pull', 'docker pull -q "$img"')}`,
    '  exec docker run --rm --network host --user 0 --security-opt label=disable -v "$d:$d" --entrypoint sh "$img" -c "$inner" sh "$f"',
    `elif command -v ${shellQuote(binary)} >/dev/null 2>&1; then`,
    `  echo "${UNCHECKED_MARK}checked with this host's own ${binary}, not the image's: no container runtime (podman, nerdctl, ctr, docker) answers on $(hostname)"`,
    '  exec sh -c "$inner" sh "$f"',
    'else',
    `  echo "${UNCHECKED_MARK}not checked: no container runtime on $(hostname) (podman, nerdctl, ctr or docker), and no ${binary} of its own"`,
    'fi',
  ].join('\n');
}

/** The candidate as "$1", for a validator that runs inside an image (inImageValidate). */
export function asPositional(validator: string): string {
  return validator.replaceAll('{file}', '"$1"');
}
