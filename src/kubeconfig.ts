import { stringify } from 'yaml';

// A kubeconfig that names one apiserver and authenticates with a bearer
// token: what the drill's kubectl uses against the lab's apiserver stand-in,
// and where the lab's kubeadm puts a client certificate in admin.conf.
// Serialized with `yaml`, so a value never breaks the file.

export interface TokenKubeconfig {
  /** The cluster's, the user's and the context's name. */
  cluster: string;
  user: string;
  server: string;
  token: string;
  /** The CA that signs the apiservers' certificates (PEM), or none: the certificate is then not checked. */
  caPem?: string;
}

export function tokenKubeconfig(k: TokenKubeconfig): string {
  const context = `${k.user}@${k.cluster}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: k.cluster, cluster: { server: k.server, ...(k.caPem === undefined ? { 'insecure-skip-tls-verify': true } : { 'certificate-authority-data': Buffer.from(k.caPem).toString('base64') }) } }],
    users: [{ name: k.user, user: { token: k.token } }],
    contexts: [{ name: context, context: { cluster: k.cluster, user: k.user } }],
    'current-context': context,
  });
}
