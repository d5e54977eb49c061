import { Pod, type IPod } from 'kubernetes-models/v1/Pod';
import { parse, stringify } from 'yaml';
import type { Inventory, LoadBalancer, StaticPodSettings } from '../../inventory/model.js';
import { header, MONITOR_URI, type Header } from '../../render/context.js';
import { qualifiedImage } from '../../render/validators.js';

// The two Pod manifests the masters' kubelets start (source 002, "static
// pods"), as typed objects serialized with `yaml`: a typo in a field name is
// a compile error here, and the text is always valid YAML. Where they differ
// from the guide's, on purpose:
// - keepalived gets exactly NET_ADMIN, NET_BROADCAST and NET_RAW added, not
//   privileged; haproxy runs as root, as the distribution's service does, so
//   that the haproxy.cfg kha writes for hosts (chroot, then user haproxy)
//   works unchanged in the official image, whose own user could neither
//   chroot nor create the stats socket in the host's directory.
// - haproxy's liveness asks haproxy's own health page (monitor-uri on
//   127.0.0.1:haproxy.monitor_port), not the apiserver's /healthz: with the
//   guide's probe the kubelet kills haproxy whenever every apiserver is down,
//   before kubeadm init for one.
// - the configuration is mounted by directory, read-only, and the command is
//   explicit (the official haproxy image reads /usr/local/etc/haproxy by
//   default, Debian's package /etc/haproxy).
// - the kubelet restarts a static pod only when its manifest changes: a hash
//   of the files the pod reads is an annotation, so new files mean a new
//   manifest, written after them.

export const CONFIG_HASH_ANNOTATION = 'kha.io/config-hash';
export const KEEPALIVED_CAPABILITIES = ['NET_ADMIN', 'NET_BROADCAST', 'NET_RAW'] as const;
/** What stands in /etc/keepalived and /etc/haproxy on the host, mounted at the same paths. */
export const KEEPALIVED_DIR = '/etc/keepalived';
export const HAPROXY_DIR = '/etc/haproxy';
/** keepalived's container runs keepalived under this (templates/kha-keepalived-pod.sh.ejs). */
export const KEEPALIVED_WRAPPER = `${KEEPALIVED_DIR}/kha-keepalived-pod.sh`;
/** Holds the boot id once kha-handover handed the VIP over for a shutdown: the wrapper then waits instead of running keepalived. */
export const SHUTDOWN_MARKER = `${KEEPALIVED_DIR}/kha-shutting-down`;

export interface ManifestContext {
  header: Header;
  /** Comment lines above the manifest: what it runs and why it looks as it does. */
  about: string[];
  pod: IPod;
}

/** A static pod's metadata as kha writes it: kube-system, kha's labels, the hash of what it reads. */
export function podMetadata(name: string, hash: string): IPod['metadata'] {
  return {
    name,
    namespace: 'kube-system',
    labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': 'kha' },
    annotations: { [CONFIG_HASH_ANNOTATION]: hash },
  };
}

export function keepalivedPod(sp: StaticPodSettings, hash: string): IPod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: podMetadata('keepalived', hash),
    spec: {
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      containers: [
        {
          name: 'keepalived',
          image: qualifiedImage(sp.keepalivedImage),
          imagePullPolicy: 'IfNotPresent',
          // The wrapper outlives keepalived, to take the VIP off however keepalived ended.
          command: [KEEPALIVED_WRAPPER, 'keepalived', '--dont-fork', '--log-console', '--log-detail', `--use-file=${KEEPALIVED_DIR}/keepalived.conf`],
          securityContext: { capabilities: { add: [...KEEPALIVED_CAPABILITIES] } },
          resources: { requests: { cpu: '10m', memory: '16Mi' } },
          volumeMounts: [{ name: 'config', mountPath: KEEPALIVED_DIR, readOnly: true }],
        },
      ],
      volumes: [{ name: 'config', hostPath: { path: KEEPALIVED_DIR, type: 'Directory' } }],
    },
  };
}

export function haproxyPod(inv: Inventory, sp: StaticPodSettings, hash: string): IPod {
  const socket = inv.haproxy.stats_socket;
  const statsDir = socket.slice(0, socket.lastIndexOf('/')) || '/';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: podMetadata('haproxy', hash),
    spec: {
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      containers: [
        {
          name: 'haproxy',
          image: qualifiedImage(sp.haproxyImage),
          imagePullPolicy: 'IfNotPresent',
          command: ['haproxy', '-W', '-db', '-f', `${HAPROXY_DIR}/haproxy.cfg`],
          securityContext: { runAsUser: 0, runAsGroup: 0 },
          livenessProbe: {
            httpGet: { host: '127.0.0.1', port: inv.haproxy.monitor_port, path: MONITOR_URI },
            periodSeconds: 5,
            timeoutSeconds: 2,
            failureThreshold: 3,
          },
          resources: { requests: { cpu: '25m', memory: '32Mi' } },
          volumeMounts: [
            { name: 'config', mountPath: HAPROXY_DIR, readOnly: true },
            // The stats socket's directory is the host's: an operator on the
            // host reaches haproxy's admin socket where the service would have it.
            { name: 'stats', mountPath: statsDir },
          ],
        },
      ],
      volumes: [
        { name: 'config', hostPath: { path: HAPROXY_DIR, type: 'Directory' } },
        { name: 'stats', hostPath: { path: statsDir, type: 'DirectoryOrCreate' } },
      ],
    },
  };
}

export function manifestContext(lb: LoadBalancer, about: string[], pod: IPod): ManifestContext {
  return { header: header(lb.name), about, pod };
}

/** The file's text: kha's header as comments, then the Pod. */
export function manifestText(context: object): string {
  const c = context as ManifestContext;
  const comments = [
    `Managed by kha ${c.header.version} for ${c.header.host}. \`kha apply\` rewrites this file: change hosts.yaml instead.`,
    ...c.about,
  ];
  return `${comments.map((l) => `# ${l}`.trimEnd()).join('\n')}\n${stringify(c.pod, { lineWidth: 0 })}`;
}

/**
 * The manifest checked against the Kubernetes Pod schema, offline, with the
 * validators kubernetes-models generates from the API's OpenAPI (v4: Node 20;
 * v5 needs Node 22). What it does not check: fields it does not know (the
 * schema allows extra keys), and what only a kubelet decides (the image
 * exists, the capabilities are granted).
 */
export function podSchemaProblems(content: string): string[] {
  let obj: unknown;
  try {
    obj = parse(content);
  } catch (e) {
    return [`not YAML: ${(e as Error).message}`];
  }
  if (typeof obj !== 'object' || obj === null || (obj as { kind?: unknown }).kind !== 'Pod') return ['not a Pod (kind: Pod)'];
  try {
    new Pod(obj as IPod).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: { instancePath?: string; message?: string }[] }).errors;
    if (errors?.length) return errors.map((x) => `${x.instancePath || '/'} ${x.message ?? 'is invalid'}`);
    return [(e as Error).message];
  }
}
