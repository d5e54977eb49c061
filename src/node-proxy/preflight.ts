import type { Check } from '../preflight/checks.js';
import { proxyHosts } from '../topology/roles.js';
import { NODE_PROXY_SERVICE, proxyPortKeys } from './tasks.js';

// Before anything changes: the proxy's ports on 127.0.0.1 are free, or held
// by the proxy itself. Without this a taken port shows only as a failed
// start, mid-rollout; and haproxy binds with SO_REUSEPORT, so beside another
// haproxy on the same port it would start and split the connections silently.

/** Addresses on which a listener takes 127.0.0.1:<port> too. */
function covers127(address: string): boolean {
  const host = address.slice(0, address.lastIndexOf(':'));
  return ['127.0.0.1', '0.0.0.0', '*', '[::]', '[::ffff:127.0.0.1]'].includes(host);
}

export const proxyPortsFree: Check = {
  name: 'node-proxy-ports',
  async run({ inv, facts }) {
    return proxyHosts(inv).flatMap((host) => {
      const listeners = facts.get(host.name)?.listeners;
      if (!listeners) return [];
      return proxyPortKeys(inv).flatMap(([port, key]) => {
        const found = listeners[port];
        if (found === null || found === undefined) {
          return [{ host: host.name, check: 'node-proxy-ports', warning: true, message: `cannot tell what listens on ${port} (no ss on the host)` }];
        }
        const others = found.filter((l) => covers127(l.address) && l.unit !== `${NODE_PROXY_SERVICE}.service`);
        if (others.length === 0) return [];
        const who = [...new Set(others.map((l) => (l.unit ? `${l.unit} (${l.address})` : `a process kha cannot name (${l.address})`)))].join(', ');
        return [{ host: host.name, check: 'node-proxy-ports', message: `127.0.0.1:${port} (${key}) is taken by ${who}: stop it, or choose another ${key}` }];
      });
    });
  },
};
