import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenKubeconfig } from '../../src/kubeconfig.js';

// The token kubeconfigs kha writes (the drill's kubectl, the lab's
// admin.conf), read back by kubectl itself (scripts/setup-host.sh puts one
// on PATH).

function kubectlView(text: string, path: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kha-kubeconfig-'));
  try {
    writeFileSync(join(dir, 'config'), text);
    const r = spawnSync('kubectl', ['config', 'view', '--raw', '--kubeconfig', join(dir, 'config'), '-o', `jsonpath=${path}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('tokenKubeconfig', () => {
  it("names the server, the token and the CA as kubectl reads them", () => {
    const text = tokenKubeconfig({ cluster: 'kubernetes', user: 'kubernetes-admin', server: 'https://10.77.0.10:8443', token: 'kha-lab-admin', caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' });
    expect(kubectlView(text, '{.current-context} {.clusters[0].cluster.server} {.users[0].user.token}')).toBe('kubernetes-admin@kubernetes https://10.77.0.10:8443 kha-lab-admin');
    expect(Buffer.from(kubectlView(text, '{.clusters[0].cluster.certificate-authority-data}'), 'base64').toString()).toContain('MIIB');
  });

  it('without a CA the certificate is not checked, and a token that YAML would read otherwise stays a string', () => {
    const text = tokenKubeconfig({ cluster: 'lab', user: 'ops', server: 'https://10.77.0.10:6443', token: '12345: yes' });
    expect(kubectlView(text, '{.clusters[0].cluster.insecure-skip-tls-verify} {.users[0].user.token}')).toBe('true 12345: yes');
  });
});
