import { findKubectl, openKubectlStream, openRealWatch } from './kubectl-stream.js';
import { openStream, type StreamHandle, type StreamRecord, type StreamTarget } from './streams.js';
import { REAL_WATCH_PATH } from './watch-writer.js';

// The streams every drill holds from the operator's machine, opened before
// the baseline so that the fault finds them established: one of each of the
// drill's own kinds, and the operator's kubectl when there is one, on the
// real watch when verify-failover has --kubeconfig.

/** The lab's apiserver stand-in serves this; a real apiserver answers 404 or 403 (the real watch is REAL_WATCH_PATH). */
const WATCH_PATH = '/watch';
const FLOWING_WITHIN_MS = 3000;

export interface Streams {
  /** Why no stream flowed before the fault (then none is measured), or undefined when they flow. */
  unavailable?: string;
  /** Why the kubectl stream is not among them (no real watch could be held, or it had no event). */
  kubectlLeftOut?: string;
  stop(): Promise<StreamRecord[]>;
}

/** Where every held stream reads, from whichever host holds it: the lab stand-in's watch through the VIP. */
export function watchTarget(vip: string, port: number): StreamTarget {
  return { host: vip, port, path: WATCH_PATH };
}

/** Whether every handle had its first event within FLOWING_WITHIN_MS. */
async function allFlowing(handles: readonly StreamHandle[]): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), FLOWING_WITHIN_MS)));
  const flowing = await Promise.race([Promise.all(handles.map((h) => h.flowing)).then(() => true), late]);
  clearTimeout(timer);
  return flowing;
}

/** The first word a record's connections said of how they ended. */
function whyNot(records: readonly StreamRecord[]): string {
  return records.flatMap((r) => r.connections.map((c) => c.ended?.detail)).find((d) => d !== undefined) ?? 'nothing came';
}

/** verify-failover --kubeconfig: a real watch with the user's credentials (watch-writer.ts keeps it changing), or why it cannot be held. */
export type RealWatch = { kubectl: string; kubeconfig: string } | { cannot: string };

/**
 * The drill's own streams first: only where they flow (the lab's stand-in)
 * does kubectl start on the stand-in's /watch, so that a real apiserver
 * never sees its made-up token knock every 50 ms. With a real watch, kubectl
 * holds that one instead, wherever the VIP leads.
 */
export async function openStreams(target: StreamTarget, t0: number, kubectl = findKubectl(), real?: RealWatch): Promise<Streams> {
  const own = (['plain', 'client-go'] as const).map((kind) => openStream(kind, kind, target, t0));
  const stopAll = (handles: readonly StreamHandle[]) => Promise.all(handles.map((h) => h.stop()));
  const within = `within ${FLOWING_WITHIN_MS / 1000} s`;
  const ownFlowing = await allFlowing(own);
  const ownRecords = ownFlowing ? [] : await stopAll(own);
  const flowing = ownFlowing ? own : [];
  let kubectlLeftOut: string | undefined;
  if (real && 'cannot' in real) {
    kubectlLeftOut = `no real watch: ${real.cannot}`;
  } else {
    const handle = real
      ? openRealWatch('kubectl', real.kubectl, real.kubeconfig, { ...target, path: REAL_WATCH_PATH }, t0)
      : ownFlowing && kubectl
        ? openKubectlStream('kubectl', kubectl, target, t0)
        : undefined;
    if (handle && (await allFlowing([handle]))) flowing.push(handle);
    else if (handle) kubectlLeftOut = `${real ? `the real watch (${REAL_WATCH_PATH})` : kubectl} had no event ${within} (${whyNot([await handle.stop()])})`;
  }
  if (flowing.length === 0) {
    const hint = real ? `; ${kubectlLeftOut}` : ': only the lab\'s apiserver stand-in streams there; with --kubeconfig FILE kha holds a real watch';
    return { unavailable: `no event on ${target.host}:${target.port}${target.path} ${within} (${whyNot(ownRecords)})${hint}`, stop: async () => [] };
  }
  return { ...(kubectlLeftOut !== undefined && { kubectlLeftOut }), stop: () => stopAll(flowing) };
}
