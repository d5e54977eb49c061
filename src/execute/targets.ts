import type { Inventory, LoadBalancer, SshSettings } from '../inventory/model.js';
import type { PassphrasePrompt } from '../transport/private-key.js';
import type { SshTarget } from '../transport/ssh.js';
import { hostNames, hostRoles } from '../topology/roles.js';

// hosts.yaml's ssh settings → what the transport needs. The jump host, given
// as [user@]host[:port], is reached with the same key and known_hosts.

function jumpTarget(spec: string, ssh: SshSettings, passphrase?: PassphrasePrompt): SshTarget {
  const m = /^(?:([^@]+)@)?([^:]+)(?::(\d+))?$/.exec(spec);
  const [, user, host = spec, port] = m ?? [];
  const target: SshTarget = {
    name: `jump ${host}`,
    address: host,
    port: port ? Number(port) : 22,
    user: user ?? ssh.user,
    knownHosts: ssh.knownHosts,
    sudo: false,
    connectTimeoutMs: ssh.connectTimeoutS * 1000,
  };
  if (ssh.identityFile) target.identityFile = ssh.identityFile;
  if (passphrase) target.passphrase = passphrase;
  return target;
}

export function sshTarget(host: { name: string; address: string; ssh: SshSettings }, passphrase?: PassphrasePrompt): SshTarget {
  const { ssh } = host;
  const target: SshTarget = {
    name: host.name,
    address: host.address,
    port: ssh.port,
    user: ssh.user,
    knownHosts: ssh.knownHosts,
    sudo: ssh.user === 'root' || !ssh.sudo ? false : ssh.sudoPassword ? { password: ssh.sudoPassword } : 'nopasswd',
    connectTimeoutMs: ssh.connectTimeoutS * 1000,
  };
  if (ssh.identityFile) target.identityFile = ssh.identityFile;
  if (passphrase) target.passphrase = passphrase;
  if (ssh.jump) target.jump = jumpTarget(ssh.jump, ssh, passphrase);
  return target;
}

/** The hosts kha changes: the load balancers (masters are only reached through haproxy). */
export function lbTargets(inv: Inventory, passphrase?: PassphrasePrompt): SshTarget[] {
  return inv.lbs.map((lb: LoadBalancer) => sshTarget(lb, passphrase));
}

/**
 * The hosts apply converges, each once: every host with a role kha runs
 * something for (a load balancer, a host that gets the local proxy), in
 * hosts.yaml's order. A master with neither is reached through haproxy only.
 */
export function applyTargets(inv: Inventory, passphrase?: PassphrasePrompt): SshTarget[] {
  return hostNames(inv).flatMap((name) => {
    const { lb, proxy } = hostRoles(inv, name);
    const host = lb ?? proxy;
    return host ? [sshTarget(host, passphrase)] : [];
  });
}
