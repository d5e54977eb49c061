import { parseAllDocuments } from 'yaml';

// A kubeconfig as kubeadm writes it (/etc/kubernetes/kubelet.conf): one
// cluster, its `server:` on a line of its own, a context naming that cluster
// as the current one. kha rewrites only that line, so the certificates,
// keys and layout around it stay byte for byte what kubeadm wrote. Anything
// else is refused with its reason: a file kha does not understand is not
// one to rewrite on a fleet.

export type KubeconfigReading =
  | { ok: true; server: string }
  | { ok: false; reason: string };

type Doc = Record<string, unknown>;

function isMap(v: unknown): v is Doc {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The line that holds the server URL: indented `server:`, the URL bare or quoted, nothing after it. */
const SERVER_LINE = /^([ \t]*server:[ \t]*)(["']?)([^"'\s#]+)\2([ \t]*)$/gm;

/** Why this text is not a kubeconfig kha rewrites, or the server it names. */
export function readKubeconfig(text: string): KubeconfigReading {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return { ok: false, reason: 'it is empty' };
  const bad = docs.flatMap((d) => d.errors);
  if (bad.length > 0) return { ok: false, reason: `it is not YAML (${bad[0]!.message.split('\n')[0]})` };
  if (docs.length !== 1) return { ok: false, reason: `it holds ${docs.length} YAML documents; kubeadm writes one` };
  const doc: unknown = docs[0]!.toJS();
  if (!isMap(doc) || doc.kind !== 'Config') return { ok: false, reason: 'it is not a kubeconfig (no `kind: Config`)' };
  const clusters = Array.isArray(doc.clusters) ? doc.clusters : [];
  if (clusters.length !== 1) {
    return { ok: false, reason: `it names ${clusters.length} clusters; kha rewrites a kubeconfig with exactly one, as kubeadm writes it` };
  }
  const entry: unknown = clusters[0];
  const cluster = isMap(entry) && isMap(entry.cluster) ? entry.cluster : undefined;
  const name = isMap(entry) ? entry.name : undefined;
  if (!cluster || typeof name !== 'string') return { ok: false, reason: 'its cluster has no name or no `cluster:` map' };
  if (cluster.server === undefined) return { ok: false, reason: 'it has no `server:` line: kha cannot tell where this client connects' };
  if (typeof cluster.server !== 'string' || !/^https:\/\/\S+$/.test(cluster.server)) {
    return { ok: false, reason: `its server is ${JSON.stringify(cluster.server)}, not an https:// URL as kubeadm writes` };
  }
  const contexts = Array.isArray(doc.contexts) ? doc.contexts : [];
  const current = contexts.find((c): c is Doc => isMap(c) && c.name === doc['current-context']);
  if (!current || !isMap(current.context) || current.context.cluster !== name) {
    return { ok: false, reason: `its current-context does not name the cluster ${JSON.stringify(name)}, as kubeadm's does` };
  }
  const lines = [...text.matchAll(SERVER_LINE)].filter((m) => m[3] === cluster.server);
  if (lines.length !== 1) {
    return { ok: false, reason: 'its `server:` is not on a line of its own, as kubeadm writes it, so kha cannot change it alone' };
  }
  return { ok: true, server: cluster.server };
}

/** The same text with only the server URL changed (its quoting and line ending kept). Call with a text readKubeconfig accepted. */
export function withServer(text: string, from: string, to: string): string {
  return text.replace(SERVER_LINE, (line: string, head: string, quote: string, url: string, tail: string) =>
    url === from ? `${head}${quote}${to}${quote}${tail}` : line,
  );
}
