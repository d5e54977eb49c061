import { firstCertificate, LOCAL_PROXY_SAN } from '../kubeadm/handoff.js';
import { readCertificate, type CertificateCheck } from '../observe/certificate.js';
import type { Check, PreflightProblem } from '../preflight/checks.js';
import { proxyHosts } from '../topology/roles.js';
import { KUBECONFIG_TARGETS, targetState } from './kubelet.js';
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
        // Its own: the service, or the static pod, whose process names the proxy's configuration (the probe's portsOwner).
        const others = found.filter((l) => covers127(l.address) && l.unit !== `${NODE_PROXY_SERVICE}.service` && !l.own);
        if (others.length === 0) return [];
        const who = [...new Set(others.map((l) => (l.unit ? `${l.unit} (${l.address})` : `a process kha cannot name (${l.address})`)))].join(', ');
        return [{ host: host.name, check: 'node-proxy-ports', message: `127.0.0.1:${port} (${key}) is taken by ${who}: stop it, or choose another ${key}` }];
      });
    });
  },
};

/** How the certificate check reads the apiserver's certificate (observe/certificate.ts; a test passes its own). */
export type CertificateReader = (host: string, port: number, wanted: readonly string[], opts: { dnsName: string | undefined; inventory: string }) => Promise<CertificateCheck>;

/**
 * node_proxy.kubelet: every kubeconfig kha would point at the proxy is one
 * it understands, on every host, before any host changes (a fleet half
 * pointed because one node's file was odd is worse than none). A node before
 * kubeadm has none yet: said, not refused. And when some kubelet would be
 * pointed, the apiserver's certificate (as served through the VIP) names
 * 127.0.0.1, which kubeadm's does not by default: without it every pointed
 * kubelet fails TLS, and each would be found only by its gate, put back.
 */
export function kubeconfigsPointableWith(readCert: CertificateReader): Check {
  return {
    name: 'node-proxy-kubelet',
    async run({ inv, facts }) {
      if (!inv.nodeProxy?.kubelet) return [];
      let pointing = false;
      const problems = proxyHosts(inv).flatMap((host) => {
        const f = facts.get(host.name);
        if (!f) return [];
        return KUBECONFIG_TARGETS.flatMap((target): PreflightProblem[] => {
          const state = targetState(inv, f, target);
          if (state.kind === 'point') pointing = true;
          if (state.kind === 'refuse') return [{ host: host.name, check: 'node-proxy-kubelet', message: `${state.reason} (node_proxy.kubelet)` }];
          if (state.kind === 'skip') return [{ host: host.name, check: 'node-proxy-kubelet', warning: true, message: state.note }];
          return [];
        });
      });
      if (!pointing) return problems;
      const { source, certificate: cert } = await firstCertificate(inv, (s) => readCert(s.address, s.port, [LOCAL_PROXY_SAN], { dnsName: inv.dnsName, inventory: inv.file }));
      const { through } = source;
      const endpoint = `${source.address}:${source.port}`;
      if (cert.error) {
        problems.push({ host: endpoint, check: 'node-proxy-kubelet', warning: true, message: `cannot read the apiserver certificate ${through} (${cert.error}) to check it names ${LOCAL_PROXY_SAN}; each kubelet's gate still confirms it connects` });
      } else if (cert.missing.length > 0) {
        problems.push({
          host: endpoint,
          check: 'node-proxy-kubelet',
          message: `the apiserver certificate served ${through} (${cert.subject}) does not name ${LOCAL_PROXY_SAN}: a kubelet pointed at https://${LOCAL_PROXY_SAN}:${inv.nodeProxy.port} would fail with an x509 error. ${cert.advice ?? ''}`.trim(),
        });
      }
      return problems;
    },
  };
}

export const kubeconfigsPointable = kubeconfigsPointableWith(readCertificate);
