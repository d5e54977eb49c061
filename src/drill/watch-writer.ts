import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import type { Master } from '../inventory/model.js';

// What a real watch needs to see events: a ConfigMap of kha's own, changed
// every 100 ms (verify-failover --kubeconfig). The writes go to every
// master's apiserver directly, never through the VIP, so that a drill's
// fault never stops them and a watch that stalls stalls on its own path. A
// cluster sees each write on every watch (etcd is shared); the lab's
// stand-ins, which share nothing, each see their own. The credentials stay
// with kubectl: kha talks to a `kubectl proxy` per master on 127.0.0.1.

export const DRILL_CONFIGMAP = 'kha-drill';
const NAMESPACE = 'default';
const COLLECTION = `/api/v1/namespaces/${NAMESPACE}/configmaps`;
/** The watch the streams hold: only kha's ConfigMap, each change an event whose object carries "seq". */
export const REAL_WATCH_PATH = `${COLLECTION}?watch=1&fieldSelector=metadata.name%3D${DRILL_CONFIGMAP}`;
const EVERY_MS = 100;
const PROXY_START_MS = 10_000;
const REQUEST_TIMEOUT_MS = 1000;

interface Proxy {
  master: string;
  port: number;
  child: ChildProcess;
}

interface Answer {
  status: number;
  body: string;
}

function call(port: number, method: string, path: string, body?: object): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { Accept: 'application/json', ...(data !== undefined && { 'Content-Type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json', 'Content-Length': Buffer.byteLength(data) }) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** What an apiserver's Status says, in its own words (a 403 names the user, the verb and the resource). */
function statusMessage(a: Answer): string {
  try {
    const s = JSON.parse(a.body) as { message?: unknown };
    if (typeof s.message === 'string') return s.message;
  } catch {
    // not a Status
  }
  return `HTTP ${a.status}`;
}

function startProxy(kubectl: string, kubeconfig: string, m: Master): Promise<Proxy> {
  const child = spawn(kubectl, ['--kubeconfig', kubeconfig, '--server', `https://${m.address}:${m.apiserverPort}`, 'proxy', '--port=0', '--address=127.0.0.1', '--accept-hosts=^127\\.0\\.0\\.1$'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(`kubectl proxy to ${m.name} did not start within ${PROXY_START_MS / 1000} s`), PROXY_START_MS);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(why));
    };
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const port = /Starting to serve on 127\.0\.0\.1:(\d+)/.exec(out)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve({ master: m.name, port: Number(port), child });
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (err += chunk));
    child.once('error', (e) => fail(`${kubectl}: ${e.message}`));
    child.once('exit', (code) => fail(`kubectl proxy to ${m.name} exited ${code}: ${err.trim().split('\n').at(-1) ?? ''}`));
  });
}

export interface WatchWriter {
  /** The masters whose apiserver takes the writes. */
  writing: string[];
  /** Those it could not write to, and why: a cluster's watch still sees the others' writes (etcd is shared). */
  unreached: { master: string; why: string }[];
  stop(): Promise<void>;
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Creates kha's ConfigMap on every master (one that exists is kept) and
 * patches it every EVERY_MS until stopped, then deletes it. Rejects, in the
 * apiserver's words, when the credentials may not, or when no master takes
 * the ConfigMap: a real watch then cannot be held, and the drills say so.
 */
export async function startWatchWriter(kubectl: string, kubeconfig: string, masters: readonly Master[]): Promise<WatchWriter> {
  const proxies = await Promise.allSettled(masters.map((m) => startProxy(kubectl, kubeconfig, m)));
  const unreached: WatchWriter['unreached'] = [];
  const started: Proxy[] = [];
  proxies.forEach((p, i) => (p.status === 'fulfilled' ? started.push(p.value) : unreached.push({ master: masters[i]!.name, why: reason(p.reason) })));
  const stopProxies = () => started.forEach((p) => p.child.kill('SIGKILL'));
  const up: Proxy[] = [];
  try {
    if (started.length === 0) throw new Error(unreached[0]?.why ?? 'no kubectl proxy started');
    const created = await Promise.allSettled(
      started.map((p) => call(p.port, 'POST', COLLECTION, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: DRILL_CONFIGMAP, namespace: NAMESPACE }, data: { seq: '0' } })),
    );
    const answers = created.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
    const refused = answers.find((a) => a.status === 401 || a.status === 403);
    if (refused) throw new Error(statusMessage(refused));
    created.forEach((c, i) => {
      const p = started[i]!;
      if (c.status === 'fulfilled' && (c.value.status === 201 || c.value.status === 409)) up.push(p);
      else unreached.push({ master: p.master, why: c.status === 'fulfilled' ? statusMessage(c.value) : reason(c.reason) });
    });
    if (up.length === 0) throw new Error(unreached.map((u) => `${u.master}: ${u.why}`).join('; '));
  } catch (e) {
    stopProxies();
    throw e;
  }
  // A proxy started to a master that did not take the ConfigMap is of no use.
  started.filter((p) => !up.includes(p)).forEach((p) => p.child.kill('SIGKILL'));
  let seq = 0;
  const busy = new Set<number>();
  const timer = setInterval(() => {
    seq += 1;
    for (const p of up) {
      // A master that does not answer (stopped by a drill) is skipped, not queued.
      if (busy.has(p.port)) continue;
      busy.add(p.port);
      call(p.port, 'PATCH', `${COLLECTION}/${DRILL_CONFIGMAP}`, { data: { seq: String(seq) } })
        .catch(() => undefined)
        .finally(() => busy.delete(p.port));
    }
  }, EVERY_MS);
  return {
    writing: up.map((p) => p.master),
    unreached,
    async stop() {
      clearInterval(timer);
      await Promise.allSettled(up.map((p) => call(p.port, 'DELETE', `${COLLECTION}/${DRILL_CONFIGMAP}`)));
      stopProxies();
    },
  };
}
