import { proxyCheckSettings, type Inventory, type NodeProxyPod, type NodeProxySettings } from '../inventory/model.js';
import type { FileSpec, RenderedFile } from '../render/catalog.js';
import { apiserverServers, header, MONITOR_URI, STATS_URI, type Header, type HaproxyContext } from '../render/context.js';
import { renderSpec } from '../render/spec.js';
import { asPositional, HAPROXY_VALIDATE, inImageValidate, NGINX_VALIDATE } from '../render/validators.js';
import { STATE_DIR } from '../tasks/directories.js';
import { filesDigest } from '../tasks/services.js';
import type { ProxyHost } from '../topology/roles.js';
import { manifestText, podSchemaProblems, type ManifestContext } from '../topology/static-pods/manifests.js';
import { NODE_PROXY_CONFIG, NODE_PROXY_RUN_DIR, proxyManifestPath, proxyPod } from './pod.js';

// The local proxy's render catalogue (docs/node-proxy.md): what a host that
// gets the proxy (topology/roles.ts proxyHosts) gets, beside the files of any
// other role it has. Its own directory, unit and runtime directory, so it
// never touches a load balancer's haproxy or one the user runs. As a static
// pod (node_proxy.static_pod): the same configuration, checked by the image
// instead of the host's binary, then the Pod manifest instead of the unit.

export const NODE_PROXY_UNIT = '/etc/systemd/system/kha-node-proxy.service';
/**
 * Which manifest kha last wrote for the proxy, so that it can remove that
 * one when hosts.yaml no longer says static_pod, or names another
 * manifests_dir: hosts.yaml then no longer says where it is.
 */
export const NODE_PROXY_POD_RECORD = `${STATE_DIR}/kha-node-proxy.manifest`;
/**
 * A node's own clients (kubelet, kube-proxy, a CNI agent) hold tens of
 * connections, not the thousands a load balancer carries (haproxy.maxconn is
 * theirs): a fixed limit well above that, cheap in file descriptors.
 */
export const NODE_PROXY_MAXCONN = 1000;

export interface NodeProxyContext {
  header: Header;
  log: string;
  port: number;
  healthPort: number;
  monitorUri: string;
  statsUri: string;
  socket: string;
  pidFile: string;
  maxconn: number;
  /** nginx: how long an apiserver that failed is left out, haproxy.check_downinter_ms in nginx's whole seconds. */
  failTimeoutS: number;
  /** hosts.yaml's haproxy section: the apiservers are checked with the load balancers' timings (nginx maps them, see its template). */
  settings: Inventory['haproxy'];
  servers: HaproxyContext['servers'];
}

export interface NodeProxyUnitContext {
  header: Header;
  software: NodeProxySettings['software'];
  port: number;
  type: string;
  check: string;
  start: string;
  reload: string;
  killSignal?: string;
}

function settingsOf(inv: Inventory): NodeProxySettings {
  if (!inv.nodeProxy) throw new Error('the node proxy is rendered only for an inventory that has one (topology/roles.ts proxyHosts)');
  return inv.nodeProxy;
}

export function nodeProxyContext(inv: Inventory, host: ProxyHost): NodeProxyContext {
  const np = settingsOf(inv);
  return {
    header: header(host.name),
    // A container has no /dev/log; the kubelet keeps what the pod prints.
    log: np.staticPod ? 'stdout format raw' : '/dev/log',
    port: np.port,
    healthPort: np.healthPort,
    monitorUri: MONITOR_URI,
    statsUri: STATS_URI,
    socket: `${NODE_PROXY_RUN_DIR}/haproxy.sock`,
    // Straight under /run, not the runtime directory: nginx -t opens the pid file, and the
    // candidate is tested before the unit has ever made RUN_DIR.
    pidFile: '/run/kha-node-proxy.pid',
    maxconn: NODE_PROXY_MAXCONN,
    failTimeoutS: Math.ceil(inv.haproxy.check_downinter_ms / 1000),
    settings: proxyCheckSettings(inv),
    servers: apiserverServers(inv),
  };
}

const HAPROXY_CFG = NODE_PROXY_CONFIG.haproxy;
const NGINX_CONF = NODE_PROXY_CONFIG.nginx;

/**
 * How systemd runs each: haproxy in master-worker mode (-Ws, Type=notify), a
 * reload is SIGUSR2 to the master, which starts new workers on the new file
 * and lets the old ones finish their connections (as the distributions' own
 * haproxy.service does); nginx in the foreground (daemon off), a reload is
 * SIGHUP, which does the same, and SIGQUIT stops it gracefully.
 */
const UNITS: Record<NodeProxySettings['software'], Omit<NodeProxyUnitContext, 'header' | 'software' | 'port'>> = {
  haproxy: {
    type: 'notify',
    check: `/usr/sbin/haproxy -Ws -c -q -f ${HAPROXY_CFG}`,
    start: `/usr/sbin/haproxy -Ws -f ${HAPROXY_CFG} -p ${NODE_PROXY_RUN_DIR}/haproxy.pid`,
    reload: '/bin/kill -USR2 $MAINPID',
  },
  nginx: {
    type: 'exec',
    check: `/usr/sbin/nginx -t -q -c ${NGINX_CONF}`,
    start: `/usr/sbin/nginx -c ${NGINX_CONF} -g 'daemon off;'`,
    reload: '/bin/kill -HUP $MAINPID',
    killSignal: 'SIGQUIT',
  },
};

export function nodeProxyUnitContext(inv: Inventory, host: ProxyHost): NodeProxyUnitContext {
  const np = settingsOf(inv);
  return { header: header(host.name), software: np.software, port: np.port, ...UNITS[np.software] };
}

const unit: FileSpec<ProxyHost> = {
  id: 'kha-node-proxy.service',
  template: 'node-proxy/kha-node-proxy.service.ejs',
  path: NODE_PROXY_UNIT,
  mode: 0o644,
  // A new unit file needs systemd's daemon-reload (tasks/files.ts does it for 'systemd' files).
  service: 'systemd',
  context: nodeProxyUnitContext,
};

const VALIDATE: Record<NodeProxySettings['software'], string> = { haproxy: HAPROXY_VALIDATE, nginx: NGINX_VALIDATE };

/** The configuration: checked by the host's binary for the service, by the image's for the pod (render/validators.ts inImageValidate). */
function configSpec(software: NodeProxySettings['software'], pod?: NodeProxyPod): FileSpec<ProxyHost> {
  const name = software === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf';
  return {
    id: `node-proxy-${name}`,
    template: `node-proxy/${name}.ejs`,
    path: NODE_PROXY_CONFIG[software],
    mode: 0o644,
    service: 'kha-node-proxy',
    validate: pod ? inImageValidate(pod.image, software, asPositional(VALIDATE[software])) : VALIDATE[software],
    context: nodeProxyContext,
  };
}

/** The files a proxy host gets as a service, in the order they are written: the configuration, then the unit that reads it. */
export const NODE_PROXY_FILES: Readonly<Record<NodeProxySettings['software'], readonly FileSpec<ProxyHost>[]>> = {
  haproxy: [configSpec('haproxy'), unit],
  nginx: [configSpec('nginx'), unit],
};

/** The ids of the files that make the proxy a pod (the record, the manifest): written by the service task, after the service is gone. */
export const POD_FILE_IDS: ReadonlySet<string> = new Set(['node-proxy-pod-record', 'kha-node-proxy.yaml']);

export function isPodFile(f: RenderedFile): boolean {
  return POD_FILE_IDS.has(f.spec.id);
}

/**
 * As a static pod: the configuration, the record of the manifest's path,
 * then the manifest, last, so that a kubelet that sees it finds the file it
 * mounts already there. The manifest carries a hash of the configuration:
 * the kubelet restarts a static pod only when its manifest changes.
 */
function podFiles(software: NodeProxySettings['software'], pod: NodeProxyPod): FileSpec<ProxyHost>[] {
  const config = configSpec(software, pod);
  const manifest = proxyManifestPath(pod.manifestsDir);
  // 128 bits of the sha256, as static_pods' (podman before 5.0 refuses annotation values over 63 characters).
  const hash = (inv: Inventory, host: ProxyHost) => filesDigest([renderSpec(config, config.context(inv, host, ''))], 'kha-node-proxy').slice(0, 32);
  return [
    config,
    {
      id: 'node-proxy-pod-record',
      template: (c) => `${(c as { manifest: string }).manifest}\n`,
      path: NODE_PROXY_POD_RECORD,
      mode: 0o644,
      service: 'kha-node-proxy',
      context: () => ({ manifest }),
    },
    {
      id: 'kha-node-proxy.yaml',
      template: manifestText,
      path: manifest,
      mode: 0o600,
      service: 'kha-node-proxy',
      check: podSchemaProblems,
      kubeletReads: true,
      context: (inv, host): ManifestContext => ({
        header: header(host.name),
        about: [
          `The local proxy (${software}) as a static pod of this host's kubelet: 127.0.0.1:${settingsOf(inv).port} to every kube-apiserver, reading ${config.path}.`,
          "Readiness asks its health page; liveness only that it answers, so the kubelet never kills it for apiservers being down.",
          'The config-hash annotation changes with the configuration, so the kubelet restarts the proxy on a new one.',
        ],
        pod: proxyPod(settingsOf(inv), pod.image, hash(inv, host)),
      }),
    },
  ];
}

/** The node proxy's catalogue for this inventory's software, as a service or as a static pod. */
export function nodeProxyFiles(inv: Inventory): readonly FileSpec<ProxyHost>[] {
  const np = settingsOf(inv);
  return np.staticPod ? podFiles(np.software, np.staticPod) : NODE_PROXY_FILES[np.software];
}
