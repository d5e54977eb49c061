import type { IPod } from 'kubernetes-models/v1/Pod';
import type { NodeProxySettings } from '../inventory/model.js';
import type { PodProcessSpec } from '../observe/pod-processes.js';
import { MONITOR_URI, STATS_URI } from '../render/context.js';
import { qualifiedImage } from '../render/validators.js';
import { podMetadata } from '../topology/static-pods/manifests.js';
import { NODE_PROXY_DIR } from './paths.js';

// The local proxy as a static pod of the host's kubelet (node_proxy.static_pod,
// docs/node-proxy.md), the way source 001 runs it (Kubespray's nginx-proxy):
// host network, so 127.0.0.1 is the host's; the configuration kha writes
// mounted read-only from the host at the same path, so the file the image
// checked is the file the pod reads. Named kha-node-proxy, as the service is:
// Kubespray's own `haproxy.yaml` would be the static-pods topology's manifest
// on a master.

export const NODE_PROXY_POD = 'kha-node-proxy';
/** The stats socket's directory, the host's (as the service's RuntimeDirectory): an operator on the host reaches the socket where it always is. */
export const NODE_PROXY_RUN_DIR = '/run/kha-node-proxy';

export const NODE_PROXY_CONFIG: Readonly<Record<NodeProxySettings['software'], string>> = {
  haproxy: `${NODE_PROXY_DIR}/haproxy.cfg`,
  nginx: `${NODE_PROXY_DIR}/nginx.conf`,
};

export function proxyManifestPath(manifestsDir: string): string {
  return `${manifestsDir}/${NODE_PROXY_POD}.yaml`;
}

/** How the pod's processes are found on the host (observe/pod-processes.ts): the binary, reading kha's file, not under the service's unit. */
export function proxyPodProcess(software: NodeProxySettings['software'], manifest: string): PodProcessSpec {
  return { key: software, comm: software, names: NODE_PROXY_CONFIG[software], manifest, exceptUnit: `${NODE_PROXY_POD}.service` };
}

/**
 * The Pod. Probes ask the proxy's own page on 127.0.0.1:<health_port>:
 * readiness its health page (with haproxy: 503 while no apiserver passes its
 * checks); liveness whether the proxy answers at all, which for haproxy is
 * its statistics page: the health page would have the kubelet kill the proxy
 * whenever every apiserver is down (before kubeadm init, for one), the very
 * moment it is needed back first. nginx's health page says only that it runs.
 * As root, as the service runs: haproxy's file chroots and drops to its
 * user, nginx's workers run as the image's unprivileged user.
 */
export function proxyPod(np: NodeProxySettings, image: string, hash: string): IPod {
  const config = NODE_PROXY_CONFIG[np.software];
  const probe = (path: string, failureThreshold: number) => ({
    httpGet: { host: '127.0.0.1', port: np.healthPort, path },
    periodSeconds: 5,
    timeoutSeconds: 2,
    failureThreshold,
  });
  const haproxy = np.software === 'haproxy';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: podMetadata(NODE_PROXY_POD, hash),
    spec: {
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      containers: [
        {
          name: NODE_PROXY_POD,
          image: qualifiedImage(image),
          imagePullPolicy: 'IfNotPresent',
          command: haproxy ? ['haproxy', '-W', '-db', '-f', config] : ['nginx', '-c', config, '-g', 'daemon off;'],
          securityContext: { runAsUser: 0, runAsGroup: 0 },
          livenessProbe: probe(haproxy ? STATS_URI : MONITOR_URI, 3),
          readinessProbe: probe(MONITOR_URI, 1),
          resources: { requests: { cpu: '25m', memory: '32Mi' } },
          volumeMounts: [
            { name: 'config', mountPath: NODE_PROXY_DIR, readOnly: true },
            ...(haproxy ? [{ name: 'run', mountPath: NODE_PROXY_RUN_DIR }] : []),
          ],
        },
      ],
      volumes: [
        { name: 'config', hostPath: { path: NODE_PROXY_DIR, type: 'Directory' } },
        ...(haproxy ? [{ name: 'run', hostPath: { path: NODE_PROXY_RUN_DIR, type: 'DirectoryOrCreate' as const } }] : []),
      ],
    },
  };
}
