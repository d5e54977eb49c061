import type { HostFacts } from '../../../src/facts/types.js';

/** A Debian 12 node as the probe sees it, reached as root, with nothing of kha's on it: the tests give it files, directories, services and packages. */
export function debianNode(host: string): Omit<HostFacts, 'files' | 'directories' | 'services' | 'packages' | 'packageVersions'> {
  return {
    host,
    os: { family: 'debian', id: 'debian', versionId: '12', prettyName: '' },
    uid: 0,
    systemd: true,
    packageManager: 'apt',
    selinux: { mode: 'absent', booleans: {} },
    firewall: { backend: 'none', active: false },
    interfaces: [],
    routeToVip: 'eth0',
    sysctls: {},
    apiserversReachable: [],
  };
}
