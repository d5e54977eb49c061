import type { Change } from '../plan/changes.js';
import type { Task } from './context.js';

/**
 * haproxy_connect_any lets haproxy bind the VIP port and reach apiservers on
 * any port (source 000: "cannot bind socket" under enforcing SELinux).
 * keepalived_connect_any lets keepalived's check script reach haproxy's local
 * health page: scripts under /etc/keepalived run in keepalived's own domain.
 */
export const SELINUX_BOOLEANS = ['haproxy_connect_any', 'keepalived_connect_any'] as const;

export const SELINUX_CONFIG = '/etc/selinux/config';

function configuredMode(content: string | null): string | null {
  const m = content?.match(/^\s*SELINUX\s*=\s*(\w+)/m);
  return m?.[1] ?? null;
}

export const selinuxTask: Task = {
  name: 'selinux',
  purpose: 'SELinux lets haproxy and keepalived do their jobs (boolean, permissive, or left alone)',
  plan({ inv, facts }) {
    const { mode, booleans } = facts.selinux;
    if (inv.security.selinux === 'keep' || mode === 'absent' || mode === 'disabled') return [];
    if (inv.security.selinux === 'permissive') {
      const atBoot = configuredMode(facts.files.find((f) => f.path === SELINUX_CONFIG)?.content ?? null);
      return mode === 'enforcing' || atBoot === 'enforcing' ? [{ kind: 'selinux.permissive' }] : [];
    }
    const changes: Change[] = [];
    for (const name of SELINUX_BOOLEANS) {
      // A policy without the boolean (older releases lack keepalived_connect_any) has nothing to set.
      if (name in booleans && !booleans[name]) changes.push({ kind: 'selinux.boolean', name, value: true });
    }
    return changes;
  },
};
