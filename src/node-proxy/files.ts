import { proxyCheckSettings, type Inventory, type NodeProxySettings } from '../inventory/model.js';
import type { FileSpec } from '../render/catalog.js';
import { apiserverServers, header, MONITOR_URI, STATS_URI, type Header, type HaproxyContext } from '../render/context.js';
import { HAPROXY_VALIDATE, NGINX_VALIDATE } from '../render/validators.js';
import type { ProxyHost } from '../topology/roles.js';

// The local proxy's render catalogue (docs/node-proxy.md): what a host that
// gets the proxy (topology/roles.ts proxyHosts) gets, beside the files of any
// other role it has. Its own directory, unit and runtime directory, so it
// never touches a load balancer's haproxy or one the user runs.

export const NODE_PROXY_DIR = '/etc/kha/node-proxy';
export const NODE_PROXY_UNIT = '/etc/systemd/system/kha-node-proxy.service';
/** systemd's RuntimeDirectory=kha-node-proxy: made at start, removed at stop. */
const RUN_DIR = '/run/kha-node-proxy';
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
    log: '/dev/log',
    port: np.port,
    healthPort: np.healthPort,
    monitorUri: MONITOR_URI,
    statsUri: STATS_URI,
    socket: `${RUN_DIR}/haproxy.sock`,
    // Straight under /run, not RUN_DIR: nginx -t opens the pid file, and the
    // candidate is tested before the unit has ever made RUN_DIR.
    pidFile: '/run/kha-node-proxy.pid',
    maxconn: NODE_PROXY_MAXCONN,
    failTimeoutS: Math.ceil(inv.haproxy.check_downinter_ms / 1000),
    settings: proxyCheckSettings(inv),
    servers: apiserverServers(inv),
  };
}

const HAPROXY_CFG = `${NODE_PROXY_DIR}/haproxy.cfg`;
const NGINX_CONF = `${NODE_PROXY_DIR}/nginx.conf`;

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
    start: `/usr/sbin/haproxy -Ws -f ${HAPROXY_CFG} -p ${RUN_DIR}/haproxy.pid`,
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

/** The files a proxy host gets, in the order they are written: the configuration, then the unit that reads it. */
export const NODE_PROXY_FILES: Readonly<Record<NodeProxySettings['software'], readonly FileSpec<ProxyHost>[]>> = {
  haproxy: [
    {
      id: 'node-proxy-haproxy.cfg',
      template: 'node-proxy/haproxy.cfg.ejs',
      path: HAPROXY_CFG,
      mode: 0o644,
      service: 'kha-node-proxy',
      validate: HAPROXY_VALIDATE,
      context: nodeProxyContext,
    },
    unit,
  ],
  nginx: [
    {
      id: 'node-proxy-nginx.conf',
      template: 'node-proxy/nginx.conf.ejs',
      path: NGINX_CONF,
      mode: 0o644,
      service: 'kha-node-proxy',
      validate: NGINX_VALIDATE,
      context: nodeProxyContext,
    },
    unit,
  ],
};

/** The node proxy's catalogue for this inventory's software. */
export function nodeProxyFiles(inv: Inventory): readonly FileSpec<ProxyHost>[] {
  return NODE_PROXY_FILES[settingsOf(inv).software];
}
