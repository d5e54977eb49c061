// The kubeconfig a worker's kubelet has after `kubeadm join` (the kubelet's
// TLS bootstrap writes it; the names are client-go's defaults), for the
// lab's kubelet stand-in (templates/lab/kubelet-node). Shaped exactly as on
// a real node, so kha's node_proxy.kubelet reads and rewrites it as it would
// there. The client certificate it names is not made: the lab's apiserver
// stand-in asks for none.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const KUBELET_CONF = 'etc/kubernetes/kubelet.conf';

export function kubeletConf(server: string, caPem: string): string {
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    `    server: ${server}`,
    '  name: default-cluster',
    'contexts:',
    '- context:',
    '    cluster: default-cluster',
    '    namespace: default',
    '    user: default-auth',
    '  name: default-context',
    'current-context: default-context',
    'kind: Config',
    'preferences: {}',
    'users:',
    '- name: default-auth',
    '  user:',
    '    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem',
    '    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem',
    '',
  ].join('\n');
}

/** Written under a machine's root, 0600 as kubeadm's. */
export async function installKubeletConf(root: string, server: string, caPem: string): Promise<void> {
  const file = join(root, KUBELET_CONF);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, kubeletConf(server, caPem), { mode: 0o600 });
  await chmod(file, 0o600);
}
