// The lab's trust material, all made on the host side before any machine
// boots: an SSH client key, every machine's host key (so known_hosts is
// written from them and nothing is trusted on first use), and a CA that signs
// each master's apiserver certificate.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './run.js';
import type { LabFiles, MachineSpec } from './state.js';

export async function ensureClientKey(files: LabFiles): Promise<void> {
  if (existsSync(files.key) && existsSync(`${files.key}.pub`)) return;
  await rm(files.key, { force: true });
  await rm(`${files.key}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'kha-lab', '-f', files.key], { step: 'lab ssh key' });
}

export interface HostKey {
  private: string;
  public: string;
}

export async function makeHostKey(dir: string, name: string): Promise<HostKey> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}_ssh_host_ed25519_key`);
  await rm(file, { force: true });
  await rm(`${file}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${name}`, '-f', file], { step: 'lab host key' });
  return { private: await readFile(file, 'utf8'), public: await readFile(`${file}.pub`, 'utf8') };
}

/** One line per machine, by address and by name, with the key made for it. */
export function knownHostsText(entries: ReadonlyArray<{ machine: MachineSpec; key: HostKey }>): string {
  return entries
    .map(({ machine, key }) => {
      const [type, body] = key.public.trim().split(/\s+/);
      return `${machine.address},${machine.name} ${type ?? ''} ${body ?? ''}`;
    })
    .join('\n')
    .concat('\n');
}

export async function ensureCa(files: LabFiles): Promise<void> {
  if (existsSync(files.caCert) && existsSync(files.caKey)) return;
  await run(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', files.caKey, '-out', files.caCert, '-days', '3650', '-subj', '/CN=kha-lab CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ],
    { step: 'lab CA' },
  );
}

export interface ServerCert {
  cert: string;
  key: string;
}

export interface Sans {
  ip: string[];
  dns: string[];
}

/**
 * An apiserver certificate signed by the lab's CA for exactly these SANs.
 * `lab up` gives a master only its own address, as a kubeadm certificate
 * made before anyone thought of the VIP; the kubeadm stand-in gives what
 * kubeadm would.
 */
export async function makeServerCert(files: LabFiles, machine: MachineSpec, sans: Sans = { ip: [machine.address], dns: [] }): Promise<ServerCert> {
  await mkdir(files.certs, { recursive: true });
  const base = join(files.certs, machine.name);
  const ext = `${base}.ext`;
  const alt = [...sans.dns.map((d) => `DNS:${d}`), ...sans.ip.map((i) => `IP:${i}`)].join(',');
  await writeFile(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${alt}\n`);
  await run(
    'openssl',
    ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=kube-apiserver-${machine.name}`],
    { step: 'lab apiserver cert' },
  );
  await run(
    'openssl',
    ['x509', '-req', '-in', `${base}.csr`, '-CA', files.caCert, '-CAkey', files.caKey, '-CAcreateserial', '-days', '825', '-extfile', ext, '-out', `${base}.crt`],
    { step: 'lab apiserver cert' },
  );
  return { cert: await readFile(`${base}.crt`, 'utf8'), key: await readFile(`${base}.key`, 'utf8') };
}
