import { HostError } from '../errors.js';
import { backupPath, putBackCommand } from '../execute/apply-change.js';
import type { Inventory } from '../inventory/model.js';
import type { Change } from '../plan/changes.js';
import { redactRemote } from '../secret.js';
import type { Session } from '../transport/session.js';
import { KUBELET_DROP_IN, KUBELET_ENV_NAMES, kubeletEnvironment } from './files.js';

// After this run restarted a kubelet for its settings (kubelet/plan.ts), the
// kubelet must run again, and its own process must have exactly what
// hosts.yaml asks: another drop-in named after kha's may set the same
// variables, and systemd's last word wins. A kubelet that does not come back
// is put back on its previous drop-in and restarted, and the host fails.

const TIMEOUT_S = 30;
/** Long enough to see a kubelet that starts and exits at once (a bad flag) as not running. */
const HOLD_S = 2;

/**
 * Prints `ok <pid> NAME=value...` once the kubelet has run HOLD_S with one
 * process, or `no <why>` after TIMEOUT_S: the variables as its process has
 * them (from /proc, not what systemd says it would give).
 */
export function kubeletEnvCommand(): string {
  const names = KUBELET_ENV_NAMES.join('|');
  return [
    'why="kubelet.service is not active"',
    `for i in $(seq 1 ${TIMEOUT_S}); do`,
    '  if systemctl is-active --quiet kubelet; then',
    '    pid=$(systemctl show -p MainPID --value kubelet)',
    `    sleep ${HOLD_S}`,
    '    if systemctl is-active --quiet kubelet && [ "$(systemctl show -p MainPID --value kubelet)" = "$pid" ]; then',
    `      echo "ok $pid $(tr '\\0' '\\n' < /proc/$pid/environ | grep -E '^(${names})=' | sort | tr '\\n' ' ')"`,
    '      exit 0',
    '    fi',
    `    why="the kubelet did not keep one process for ${HOLD_S} s (it exits and systemd restarts it)"`,
    '  fi',
    '  sleep 1',
    'done',
    'echo "no $why"',
  ].join('\n');
}

/** What the process has, against what hosts.yaml asks: each variable set to its value, or absent without the section. */
export function envMismatch(inv: Inventory, seen: Record<string, string>): string | undefined {
  const want: Record<string, string> = inv.kubelet ? kubeletEnvironment(inv.kubelet) : {};
  const wrong = KUBELET_ENV_NAMES.filter((n) => seen[n] !== want[n]);
  if (wrong.length === 0) return undefined;
  return wrong.map((n) => (want[n] === undefined ? `${n} is ${seen[n]}, and hosts.yaml has no kubelet section` : `${n} is ${seen[n] ?? 'not set'}, not ${want[n]}`)).join('; ');
}

export function parseEnv(words: readonly string[]): Record<string, string> {
  return Object.fromEntries(words.filter((w) => w.includes('=')).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
}

/** This run restarted the kubelet: confirm it runs as hosts.yaml says, or put the drop-in back. */
export async function confirmKubelet(session: Session, inv: Inventory, done: readonly Change[], progress: (text: string) => void): Promise<void> {
  if (!done.some((c) => c.kind === 'service.restart' && c.service === 'kubelet')) return;
  const out = (await session.exec(kubeletEnvCommand(), { timeoutMs: (TIMEOUT_S + HOLD_S + 15) * 1000 })).stdout.trim();
  const [verdict, pid = '', ...words] = out.split(' ');
  const problem = verdict === 'ok' ? envMismatch(inv, parseEnv(words)) : out.replace(/^no /, '');
  if (problem === undefined) {
    const shown = words.length > 0 ? words.join(' ') : "client-go's defaults";
    progress(`${session.host}: the kubelet runs with ${shown} (pid ${pid})`);
    return;
  }
  // A kubelet that runs, only on values another drop-in gives, is left running.
  const written = verdict === 'ok' ? undefined : done.find((c) => (c.kind === 'file.write' || c.kind === 'file.remove') && c.path === KUBELET_DROP_IN);
  const hadOne = written?.kind === 'file.remove' || (written?.kind === 'file.write' && written.previous !== null);
  const undo = putBackCommand([{ path: KUBELET_DROP_IN, backup: hadOne ? backupPath(KUBELET_DROP_IN) : null }]);
  const r = written ? await session.exec(`${undo} && systemctl restart kubelet`, { timeoutMs: 90_000 }) : undefined;
  const outcome =
    r === undefined
      ? verdict === 'ok'
        ? `another drop-in of kubelet.service sets them after kha's (systemctl cat kubelet shows which): remove them there, or make hosts.yaml's kubelet section say the same`
        : 'check the kubelet now'
      : r.code === 0
        ? `kha put back the kubelet's previous drop-ins and restarted it`
        : `kha could not put back the previous drop-in (${redactRemote(r.stderr.trim()) || `exit ${r.code}`}): check the kubelet now`;
  throw new HostError(session.host, 'kubelet settings', `${problem}: ${outcome}`);
}
