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

export const BASH_SYNTAX = 'bash -n {file}';

export function validateCommand(template: string, file: string): string {
  return template.replaceAll('{file}', shellQuote(file));
}
