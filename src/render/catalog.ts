import { BASH_SYNTAX, HAPROXY_VALIDATE, KEEPALIVED_VALIDATE } from './validators.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import {
  checkScriptContext,
  haproxyContext,
  keepalivedContext,
  restartDropInContext,
  sysctlContext,
} from './context.js';

// Every file kha writes, as data: where it goes, with which mode, which
// service reads it and how the real validator checks it before it is swapped
// in. A topology adds entries here; the renderer and `apply` stay the same.
// Order matters: keepalived's check needs the check script already in place.

export type Service = 'keepalived' | 'haproxy' | 'sysctl' | 'systemd' | 'firewall';

export interface FileSpec {
  id: string;
  template: string;
  path: string;
  mode: number;
  service: Service;
  /** Shell command (see validators.ts) checking a candidate at {file} on the host before the swap. */
  validate?: string;
  /** Files with secrets are never shown in diffs unredacted. */
  secret?: boolean;
  /** Which load balancers get it; every load balancer when left out. */
  when?: (inv: Inventory, lb: LoadBalancer) => boolean;
  context: (inv: Inventory, lb: LoadBalancer, iface: string) => object;
}

export const LB_FILES: readonly FileSpec[] = [
  {
    id: 'check-haproxy',
    template: 'kha-check-haproxy.sh.ejs',
    path: '/etc/keepalived/kha-check-haproxy.sh',
    mode: 0o755,
    service: 'keepalived',
    validate: BASH_SYNTAX,
    context: checkScriptContext,
  },
  {
    id: 'keepalived.conf',
    template: 'keepalived.conf.ejs',
    path: '/etc/keepalived/keepalived.conf',
    mode: 0o600,
    service: 'keepalived',
    validate: KEEPALIVED_VALIDATE,
    secret: true,
    context: keepalivedContext,
  },
  {
    id: 'haproxy.cfg',
    template: 'haproxy.cfg.ejs',
    path: '/etc/haproxy/haproxy.cfg',
    mode: 0o644,
    service: 'haproxy',
    validate: HAPROXY_VALIDATE,
    context: haproxyContext,
  },
  {
    id: 'sysctl',
    template: 'sysctl-kha.conf.ejs',
    path: '/etc/sysctl.d/90-kha.conf',
    mode: 0o644,
    service: 'sysctl',
    when: (inv) => inv.haproxy.bind === 'vip',
    context: sysctlContext,
  },
  {
    id: 'keepalived-restart',
    template: 'keepalived-restart.conf.ejs',
    path: '/etc/systemd/system/keepalived.service.d/kha-restart.conf',
    mode: 0o644,
    service: 'systemd',
    context: (_inv, lb) => restartDropInContext(lb),
  },
];
