import { HostError } from '../errors.js';
import { BACKUP_SUFFIX } from '../execute/apply-change.js';
import type { Inventory } from '../inventory/model.js';
import type { Change } from '../plan/changes.js';
import type { KubeClient } from '../render/catalog.js';
import { STATS_URI } from '../render/context.js';
import { redactRemote } from '../secret.js';
import { shellQuote as q } from '../shell/quote.js';
import type { Session } from '../transport/session.js';
import { readKubeconfig } from './kubeconfig.js';
import { KUBECONFIG_TARGETS, proxyUrl, type KubeconfigTarget } from './kubelet.js';

// After a client's kubeconfig was pointed at the proxy and the client
// restarted (node-proxy/kubelet.ts), the proxy's gate confirms it came back
// through the proxy: its unit active, and its own process holding a
// connection to 127.0.0.1:<port> that lasts (a kubelet keeps its watches
// open; one refused by TLS, say a certificate without 127.0.0.1, closes
// within the handshake). When it does not, the old kubeconfig is put back
// and the client restarted on it, and the host fails. A client pointed in an
// earlier run is confirmed too after any change on its host: the proxy may
// have been stopped and started under it.

const TIMEOUT_S = 30;
/** How long the connection must stay up to count: longer than a TLS handshake, well under a watch's life. */
const HOLD_S = 2;

/** One client's kubeconfig written and the client restarted in this run, as the gate must confirm it. */
export interface Pointed {
  service: KubeClient;
  path: string;
  /** The server it named before, for the words when it is put back. */
  before: string;
}

/** The clients this host's changes pointed at the proxy: a kubeconfig written, then its client restarted. */
export function pointedIn(changes: readonly Change[]): Pointed[] {
  return changes.flatMap((c): Pointed[] => {
    if (c.kind !== 'file.write' || (c.service !== 'kubelet' && c.service !== 'kube-proxy') || c.previous === null) return [];
    const service = c.service;
    if (!changes.some((r) => r.kind === 'service.restart' && r.service === service)) return [];
    const reading = readKubeconfig(c.previous);
    return [{ service, path: c.path, before: reading.ok ? reading.server : 'its previous server' }];
  });
}

/**
 * Prints `ok <local address:port> <pid>` once the unit is active and its
 * process has held one connection to the proxy for HOLD_S, or `no <why>`
 * after TIMEOUT_S. The process is the unit's main one, or one named after
 * the service (a wrapper may start the real client).
 */
export function connectedCommand(service: KubeClient, port: number): string {
  const script = [
    `svc=${service}; port=${port}; why="${service}.service is not active"`,
    `for i in $(seq 1 ${TIMEOUT_S}); do`,
    '  if systemctl is-active --quiet "$svc"; then',
    '    pid=$(systemctl show -p MainPID --value "$svc")',
    '    why="its process (pid $pid) holds no connection to 127.0.0.1:$port"',
    `    from=$(ss -tnpH state established dst "127.0.0.1:$port" 2>/dev/null | grep -E "pid=$pid,|\\"$svc\\"" | awk '{print $3; exit}')`,
    '    if [ -n "$from" ]; then',
    `      sleep ${HOLD_S}`,
    '      if [ -n "$(ss -tnH state established src "$from" dst "127.0.0.1:$port" 2>/dev/null)" ]; then echo "ok $from $pid"; exit 0; fi',
    `      why="its connection from $from to 127.0.0.1:$port closed within ${HOLD_S} s (a TLS error? the apiservers' certificate must name 127.0.0.1)"`,
    '    fi',
    '  fi',
    '  sleep 1',
    'done',
    'echo "no $why"',
  ].join('\n');
  return `command -v ss >/dev/null || { echo 'unseen: no ss on this host to see its connection'; exit 0; }\n${script}`;
}

/** haproxy's count of sessions on the proxy's frontend, from its statistics on the health port: `current total`, or nothing. */
export function frontendSessionsCommand(healthPort: number): string {
  const get = `exec 3<>/dev/tcp/127.0.0.1/${healthPort} || exit 1; printf 'GET ${STATS_URI};csv HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3`;
  return `timeout 3 bash -c ${q(get)} 2>/dev/null | awk -F, '$1 == "kube_apiserver_local" && $2 == "FRONTEND" { print $5, $8 }'`;
}

/** The client's kubeconfig from before this run, and the client restarted on it: what happened, in words. */
export async function putBackPointed(session: Session, p: Pointed): Promise<string> {
  const cmd = `mv -f ${q(`${p.path}${BACKUP_SUFFIX}`)} ${q(p.path)} && systemctl restart ${p.service}`;
  const r = await session.exec(cmd, { timeoutMs: 90_000 });
  return r.code === 0
    ? `kha put back ${p.path} and restarted ${p.service}: it uses ${p.before} again`
    : `kha could not put back ${p.path} (${redactRemote(r.stderr.trim()) || `exit ${r.code}`}): check ${p.service} now`;
}

type Seen = { kind: 'connected'; local: string; pid: string } | { kind: 'not'; why: string } | { kind: 'unseen'; why: string };

async function seeConnected(session: Session, service: KubeClient, port: number): Promise<Seen> {
  const out = (await session.exec(connectedCommand(service, port), { timeoutMs: (TIMEOUT_S + HOLD_S + 15) * 1000 })).stdout.trim();
  if (out.startsWith('ok ')) {
    const [, local = '', pid = ''] = out.split(' ');
    return { kind: 'connected', local, pid };
  }
  return out.startsWith('no ') ? { kind: 'not', why: out.slice(3) } : { kind: 'unseen', why: out.replace(/^unseen: /, '') };
}

/**
 * Confirms each client this run pointed at the proxy; a client that
 * does not come back through it is put back on its old kubeconfig and the
 * host fails (the rollout's --max-fail then decides whether it goes on).
 */
export async function confirmPointed(session: Session, inv: Inventory, pointed: readonly Pointed[], progress: (text: string) => void): Promise<void> {
  const np = inv.nodeProxy!;
  for (const p of pointed) {
    const seen = await seeConnected(session, p.service, np.port);
    if (seen.kind === 'not') {
      const outcome = await putBackPointed(session, p);
      throw new HostError(session.host, `${p.service} through the proxy`, `${p.service} did not come back through the proxy within ${TIMEOUT_S} s: ${seen.why}; ${outcome}`);
    }
    if (seen.kind === 'unseen') {
      progress(`${session.host}: ${p.service} restarted on ${p.path}; ${seen.why}`);
      continue;
    }
    const stats = np.software === 'haproxy' ? (await session.exec(frontendSessionsCommand(np.healthPort), { timeoutMs: 10_000 })).stdout.trim().split(' ') : [];
    const counted = stats.length === 2 ? `; haproxy's frontend has ${stats[0]} sessions now, ${stats[1]} since it started` : '';
    progress(`${session.host}: ${p.service} came back through the proxy (pid ${seen.pid}, connected from ${seen.local} to 127.0.0.1:${np.port})${counted}`);
  }
}

/** `yes` when the client runs and its kubeconfig's server line names the proxy. */
export function usesProxyCommand(target: KubeconfigTarget, url: string): string {
  const line = `^[[:space:]]*server:[[:space:]]*["']?${url.replaceAll('.', '\\.')}["']?[[:space:]]*$`;
  return `systemctl is-active --quiet ${target.service} && grep -qE ${q(line)} ${q(target.path)} 2>/dev/null && echo yes || echo no`;
}

/**
 * A client that already used the proxy before this run (its kubeconfig says
 * so, and kha did not change it now): whatever this run changed on the host
 * may have cut its connection (a switch of software stops the proxy and
 * starts the other), so it must be seen back through the proxy. There is
 * nothing of this run's to put back: the host fails, saying what it saw.
 */
export async function confirmStillThrough(session: Session, inv: Inventory, pointed: readonly Pointed[], progress: (text: string) => void): Promise<void> {
  const np = inv.nodeProxy!;
  if (!np.kubelet) return;
  const url = proxyUrl(inv);
  for (const target of KUBECONFIG_TARGETS) {
    if (pointed.some((p) => p.path === target.path)) continue;
    if ((await session.exec(usesProxyCommand(target, url), { timeoutMs: 10_000 })).stdout.trim() !== 'yes') continue;
    const seen = await seeConnected(session, target.service, np.port);
    if (seen.kind === 'not') {
      throw new HostError(
        session.host,
        `${target.service} through the proxy`,
        `${target.service} uses the proxy (${target.path} says ${url}) but is not connected through it within ${TIMEOUT_S} s of this run's changes: ${seen.why}`,
      );
    }
    progress(
      seen.kind === 'connected'
        ? `${session.host}: ${target.service} is connected through the proxy (pid ${seen.pid}, from ${seen.local})`
        : `${session.host}: ${target.service} uses the proxy; ${seen.why}`,
    );
  }
}
