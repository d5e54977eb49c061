import { connect, type PeerCertificate } from 'node:tls';

// The x509 error of source 000: the apiserver certificate made by kubeadm
// names the masters, not the VIP, so kubectl refuses https://VIP:6443. kha
// reads the certificate served through the VIP and says which of the names
// `kha kubeadm` hands to kubeadm as certSANs it lacks.

export interface CertificateCheck {
  subject: string;
  sans: { dns: string[]; ip: string[] };
  missing: string[];
  /** What to do about missing SANs, for people. */
  advice?: string;
  error?: string;
}

function parseSans(alt: string | undefined): { dns: string[]; ip: string[] } {
  const dns: string[] = [];
  const ip: string[] = [];
  for (const part of (alt ?? '').split(',').map((s) => s.trim())) {
    if (part.startsWith('DNS:')) dns.push(part.slice(4));
    else if (part.startsWith('IP Address:')) ip.push(part.slice(11));
  }
  return { dns, ip };
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Which of the names the certificate must carry (kha kubeadm's certSANs) it lacks: addresses among its IP SANs, names among its DNS SANs. */
export function missingSans(sans: { dns: string[]; ip: string[] }, wanted: readonly string[]): string[] {
  return wanted.filter((w) => (IPV4.test(w) ? !sans.ip.includes(w) : !sans.dns.some((d) => d.toLowerCase() === w.toLowerCase())));
}

export function sanAdvice(missing: readonly string[], inventory: string): string {
  return [
    `add ${missing.join(' and ')} to the apiserver certificate's SANs on every master. On a new cluster: kubeadm init with the configuration from kha kubeadm ${inventory}. On a running one:`,
    `  1. in the ClusterConfiguration: apiServer.certSANs: [${missing.map((m) => `"${m}"`).join(', ')}] (kubectl -n kube-system edit cm kubeadm-config)`,
    '  2. on each master: mv /etc/kubernetes/pki/apiserver.{crt,key} /root/ && kubeadm init phase certs apiserver --config <that configuration>',
    '  3. restart the apiserver (move its static pod manifest out of /etc/kubernetes/manifests and back)',
  ].join('\n');
}

/** The certificate served at host:port (the VIP), checked for the names in `wanted`; SNI is the DNS name when there is one. */
export function readCertificate(
  host: string,
  port: number,
  wanted: readonly string[],
  opts: { dnsName: string | undefined; inventory: string; timeoutMs?: number },
): Promise<CertificateCheck> {
  const { dnsName, inventory, timeoutMs = 3000 } = opts;
  return new Promise((resolve) => {
    const socket = connect({ host, port, rejectUnauthorized: false, servername: dnsName ?? undefined, timeout: timeoutMs });
    const fail = (error: string) => {
      socket.destroy();
      resolve({ subject: '', sans: { dns: [], ip: [] }, missing: [], error });
    };
    socket.once('secureConnect', () => {
      const cert: PeerCertificate = socket.getPeerCertificate();
      socket.end();
      const sans = parseSans(cert.subjectaltname);
      const missing = missingSans(sans, wanted);
      const cn = cert.subject?.CN;
      const check: CertificateCheck = { subject: Array.isArray(cn) ? cn.join(',') : (cn ?? ''), sans, missing };
      if (missing.length > 0) check.advice = sanAdvice(missing, inventory);
      resolve(check);
    });
    socket.once('timeout', () => fail(`no TLS answer within ${timeoutMs} ms`));
    socket.once('error', (e) => fail((e as NodeJS.ErrnoException).code ?? e.message));
  });
}
