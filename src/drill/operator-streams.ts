import { findKubectl, openKubectlStream } from './kubectl-stream.js';
import { openStream, type StreamHandle, type StreamRecord, type StreamTarget } from './streams.js';

// The streams every drill holds from the operator's machine, opened before
// the baseline so that the fault finds them established: one of each of the
// drill's own kinds, and the operator's kubectl when there is one.

/** The lab's apiserver stand-in serves this; a real apiserver wants credentials for a watch (not built yet). */
const WATCH_PATH = '/watch';
const FLOWING_WITHIN_MS = 3000;

export interface Streams {
  /** Why no stream flowed before the fault (then none is measured), or undefined when they flow. */
  unavailable?: string;
  /** Why the kubectl found here is not among them, when the drill's own flowed and it did not. */
  kubectlLeftOut?: string;
  stop(): Promise<StreamRecord[]>;
}

/** Where every held stream reads, from whichever host holds it: the lab stand-in's watch through the VIP. */
export function watchTarget(vip: string, port: number): StreamTarget {
  return { host: vip, port, path: WATCH_PATH };
}

/** Resolves when every handle has had its first event, or with 'late' after FLOWING_WITHIN_MS. */
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

/**
 * The drill's own streams first: only where they flow (the lab's stand-in)
 * does kubectl start, so that a real apiserver never sees its made-up
 * token knock every 50 ms.
 */
export async function openStreams(target: StreamTarget, t0: number, kubectl = findKubectl()): Promise<Streams> {
  const own = (['plain', 'client-go'] as const).map((kind) => openStream(kind, kind, target, t0));
  const stopAll = (handles: readonly StreamHandle[]) => Promise.all(handles.map((h) => h.stop()));
  const within = `within ${FLOWING_WITHIN_MS / 1000} s`;
  if (!(await allFlowing(own))) {
    const records = await stopAll(own);
    return { unavailable: `no event on ${target.host}:${target.port}${target.path} ${within} (${whyNot(records)}): only the lab's apiserver stand-in streams there`, stop: async () => [] };
  }
  if (!kubectl) return { stop: () => stopAll(own) };
  const real = openKubectlStream('kubectl', kubectl, target, t0);
  if (!(await allFlowing([real]))) {
    const why = whyNot([await real.stop()]);
    return { kubectlLeftOut: `${kubectl} had no event ${within} (${why})`, stop: () => stopAll(own) };
  }
  return { stop: () => stopAll([...own, real]) };
}
