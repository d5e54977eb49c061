import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { CLOSED_BY_DRILL, countEvents, runStream, type Connector, type EndedHow, type StreamHandle, type StreamTarget } from './streams.js';
import { tokenKubeconfig } from '../kubeconfig.js';

// A real client-go client among the drill's streams: the operator's kubectl,
// `kubectl get --raw PATH`, which copies what it reads to its stdout as it
// arrives. Over HTTP/2 (the lab's stand-in offers h2, as kube-apiserver does)
// it has client-go's own health check, with client-go's defaults unless its
// environment says otherwise: what a kubelet's watch lives through, not an
// imitation of it. kubectl exits when its connection ends; kha starts it
// again, as an informer re-watches.

/** The kubectl to run: KHA_KUBECTL, else the first on PATH; undefined when there is none. */
export function findKubectl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = env.KHA_KUBECTL ? [env.KHA_KUBECTL] : (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'kubectl'));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * How kubectl's last words say its connection ended (client-go's errors as
 * kubectl prints them): a reset, client-go's health check giving up, the
 * server's end of the stream; anything else is an error, said as printed.
 */
export function kubectlEnded(code: number | null, stderr: string): { how: EndedHow; detail?: string } {
  if (/connection reset by peer/.test(stderr)) return { how: 'rst' };
  if (/client connection lost|ping timeout|timed out waiting for ping/i.test(stderr)) return { how: 'timeout', detail: "client-go's HTTP/2 health check" };
  if (code === 0 || /unexpected EOF|\bEOF\b/.test(stderr)) return { how: 'fin' };
  const line = stderr.trim().split('\n').at(-1)?.trim();
  return { how: 'error', detail: line ? line.slice(0, 200) : `kubectl exited ${code ?? 'on a signal'}` };
}

/**
 * A kubeconfig for the lab's stand-in: it checks no credentials, but kubectl
 * with none asks for a username on its terminal. The certificate is the
 * stand-in's own, not checked, as the drill's other clients do not.
 */
function labKubeconfig(target: StreamTarget): string {
  return tokenKubeconfig({ cluster: 'kha-drill', user: 'kha-drill', server: `https://${target.host}:${target.port}`, token: 'kha-drill' });
}

/** `server`: the VIP, where the kubeconfig names another address (the user's own, for a real watch). */
function kubectlConnector(kubectl: string, kubeconfig: string, target: StreamTarget, server?: string): Connector {
  return (c, now, event) => {
    const args = ['--kubeconfig', kubeconfig, ...(server ? ['--server', server] : []), '--request-timeout=0', 'get', '--raw', target.path];
    const child = spawn(kubectl, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let closedByDrill = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      countEvents(c, chunk, now());
      if (c.events.length > 0) event();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 8192) stderr += chunk;
    });
    const ended = new Promise<void>((done) => {
      const finish = (code: number | null, spawnError?: string) => {
        if (!c.ended) c.ended = { t: now(), ...(closedByDrill ? { how: 'error' as const, detail: CLOSED_BY_DRILL } : spawnError ? { how: 'error' as const, detail: spawnError } : kubectlEnded(code, stderr)) };
        done();
      };
      child.once('error', (e) => finish(null, `${kubectl}: ${e.message}`));
      child.once('close', (code) => finish(code));
    });
    return {
      ended,
      close: () => {
        closedByDrill = true;
        child.kill('SIGKILL');
      },
    };
  };
}

/** One kubectl stream on the lab's stand-in, kept open until stopped; its kubeconfig lives as long as it does. */
export function openKubectlStream(name: string, kubectl: string, target: StreamTarget, t0: number): StreamHandle {
  const dir = mkdtempSync(join(tmpdir(), 'kha-kubectl-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, labKubeconfig(target), { mode: 0o600 });
  const handle = runStream(name, 'kubectl', t0, kubectlConnector(kubectl, kubeconfig, target));
  return {
    flowing: handle.flowing,
    async stop() {
      try {
        return await handle.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A real watch, with the user's kubeconfig (its credentials stay with kubectl), through the VIP. */
export function openRealWatch(name: string, kubectl: string, kubeconfig: string, target: StreamTarget, t0: number): StreamHandle {
  return runStream(name, 'kubectl', t0, kubectlConnector(kubectl, kubeconfig, target, `https://${target.host}:${target.port}`));
}
