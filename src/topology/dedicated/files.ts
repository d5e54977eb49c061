import type { FileSpec } from '../../render/catalog.js';
import {
  checkScriptContext,
  haproxyContext,
  haproxyDropInContext,
  keepalivedContext,
  releaseContext,
  RELEASE_SCRIPT_PATH,
  restartDropInContext,
  sysctlContext,
} from '../../render/context.js';
import { BASH_SYNTAX, HAPROXY_VALIDATE, KEEPALIVED_VALIDATE } from '../../render/validators.js';

// The dedicated topology's render catalogue. Order matters: keepalived's
// check and notify need their scripts already in place.

export const FILES: readonly FileSpec[] = [
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
    id: 'release-connections',
    template: 'kha-release-connections.sh.ejs',
    path: RELEASE_SCRIPT_PATH,
    mode: 0o755,
    service: 'keepalived',
    validate: BASH_SYNTAX,
    context: releaseContext,
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
    context: sysctlContext,
  },
  {
    id: 'keepalived-restart',
    template: 'keepalived-restart.conf.ejs',
    path: '/etc/systemd/system/keepalived.service.d/kha-restart.conf',
    mode: 0o644,
    service: 'systemd',
    context: restartDropInContext,
  },
  {
    id: 'haproxy-release',
    template: 'haproxy-release.conf.ejs',
    path: '/etc/systemd/system/haproxy.service.d/kha-release.conf',
    mode: 0o644,
    service: 'systemd',
    context: haproxyDropInContext,
  },
];
