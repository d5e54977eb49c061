import { InputError } from '../errors.js';
import type { Inventory, Master } from '../inventory/model.js';
import { carriesEndpoint } from '../topology/roles.js';

// What kubeadm needs from the endpoint kha builds, derived from hosts.yaml
// alone: the address every node and client uses (controlPlaneEndpoint), the
// names the apiserver certificate must carry (certSANs), and the port each
// apiserver binds. Pure: `kha kubeadm`, `status` and the lab's kubeadm
// stand-in all read these from here.

/** The kubeadm configuration API each Kubernetes minor reads (v1beta4 since 1.31, v1beta3 since 1.22). */
const API_BY_MINOR: ReadonlyArray<{ from: number; api: KubeadmApi }> = [
  { from: 31, api: 'kubeadm.k8s.io/v1beta4' },
  { from: 22, api: 'kubeadm.k8s.io/v1beta3' },
];
export const OLDEST_MINOR = 22;
export const NEWEST_MINOR = 35;

export type KubeadmApi = 'kubeadm.k8s.io/v1beta3' | 'kubeadm.k8s.io/v1beta4';

export interface KubernetesVersion {
  /** As kubeadm writes it: v1.31.2. */
  text: string;
  minor: number;
}

/** `1.31.2` or `v1.31.2`; exit 2 for anything kha does not know. */
export function parseKubernetesVersion(input: string): KubernetesVersion {
  const m = /^v?1\.(\d{1,3})\.(\d{1,3})$/.exec(input.trim());
  const known = `kha knows Kubernetes 1.${OLDEST_MINOR} to 1.${NEWEST_MINOR}`;
  if (!m) {
    throw new InputError(
      `--kubernetes-version ${JSON.stringify(input.slice(0, 40))}: write the exact version your kubeadm installs, like v1.31.2 (kubeadm version -o short); ${known}`,
    );
  }
  const minor = Number(m[1]);
  if (minor < OLDEST_MINOR || minor > NEWEST_MINOR) {
    throw new InputError(`--kubernetes-version ${input}: ${known}, whose kubeadm reads the configuration kha writes (kubeadm.k8s.io/v1beta3 or v1beta4)`);
  }
  return { text: `v1.${minor}.${Number(m[2])}`, minor };
}

export function apiFor(version: KubernetesVersion | undefined): KubeadmApi {
  if (version === undefined) return 'kubeadm.k8s.io/v1beta4';
  return API_BY_MINOR.find((a) => version.minor >= a.from)!.api;
}

/**
 * The local proxy's address, when kubelets are pointed at it: their
 * kubeconfig then says https://127.0.0.1:<port>, and the TLS they speak
 * through the proxy ends at the apiserver, whose certificate kubeadm does not
 * issue for 127.0.0.1 (its defaults are the node's name and address, the
 * kubernetes Service names and IP). Kubespray adds it for the same reason.
 */
export const LOCAL_PROXY_SAN = '127.0.0.1';

/** The names the apiserver certificate must carry for clients of this endpoint, besides what kubeadm adds itself. */
export function certSans(inv: Inventory): string[] {
  return [...(inv.vip ? [inv.vip.address] : []), ...(inv.dnsName ? [inv.dnsName] : []), ...(inv.nodeProxy?.kubelet ? [LOCAL_PROXY_SAN] : [])];
}

/**
 * Where kubeadm sends kubelets and joining masters: the VIP, or without one
 * the first master's apiserver, as source 001 does. That master is then a
 * single point of failure until each kubelet is pointed at its local proxy
 * (the inventory's notes say so).
 */
export function controlPlaneEndpoint(inv: Inventory): string {
  if (!inv.vip) return `${inv.masters[0]!.address}:${inv.masters[0]!.apiserverPort}`;
  return `${inv.dnsName ?? inv.vip.address}:${inv.port}`;
}

export interface CertificateSource {
  address: string;
  port: number;
  /** Where it was read, in words for messages. */
  through: string;
}

/**
 * Where kha reads the certificate clients get, to hold it to certSans, in
 * the order to try: through the VIP, or without one each master's apiserver
 * (kubeadm issues them with the same names), so that one master down does
 * not hide it.
 */
export function certificateSources(inv: Inventory): CertificateSource[] {
  if (inv.vip) return [{ address: inv.vip.address, port: inv.port, through: 'through the VIP' }];
  return inv.masters.map((m) => ({ address: m.address, port: m.apiserverPort, through: `by ${m.name}'s apiserver` }));
}

/** The certificate from the first source that answers, or the last one's error. */
export async function firstCertificate<T extends { error?: string }>(
  inv: Inventory,
  read: (source: CertificateSource) => Promise<T>,
): Promise<{ source: CertificateSource; certificate: T }> {
  let last: { source: CertificateSource; certificate: T } | undefined;
  for (const source of certificateSources(inv)) {
    last = { source, certificate: await read(source) };
    if (last.certificate.error === undefined) return last;
  }
  return last!;
}

/** The configuration's opening words on where that endpoint leads. */
function endpointComment(inv: Inventory, first: Master, endpoint: string): string[] {
  if (!inv.vip) {
    return [
      `# No VIP: kubelets and joining masters reach ${first.name}'s apiserver at ${endpoint}, and nothing else,`,
      "# until kha apply points each kubelet at its local proxy (node_proxy.kubelet), which reaches every master's.",
    ];
  }
  return [
    `# Clients, kubelets and joining masters reach the apiservers through ${endpoint}`,
    `# (${inv.dnsName ? `${inv.dnsName}, which must resolve to the VIP ${inv.vip.address}` : 'the VIP'}); kha's load balancers forward it to every master's apiserver.`,
  ];
}

export interface Handoff {
  apiVersion: KubeadmApi;
  kubernetesVersion?: string;
  controlPlaneEndpoint: string;
  certSans: string[];
  /** The first master runs `kubeadm init`; the others join it as control-plane nodes. */
  init: { master: string; command: string };
  join: Array<{ master: string; command: string }>;
  /** Where each apiserver listens, and whether that differs from the port clients use. */
  masters: Array<{ name: string; address: string; bindPort: number; carriesEndpoint: boolean }>;
  /** The configuration file for `kubeadm init --config`, as text. */
  config: string;
  /**
   * Static pods: kha's manifests are in the kubelet's manifests directory
   * before kubeadm runs. kubeadm's preflight check DirAvailable refuses a
   * non-empty one: `kubeadm init` has checked only its own manifest files
   * since 1.10 (kubernetes/kubernetes#57287), but joins checked the whole
   * directory until 1.23 (#104942). kha asks to ignore it on every node:
   * that costs nothing where the check no longer runs.
   */
  ignorePreflightErrors: string[];
}

/** kubeadm's preflight check that the manifests directory is empty (init and control-plane join). */
export const MANIFESTS_DIR_CHECK = 'DirAvailable--etc-kubernetes-manifests';

const CONFIG_FILE = 'kubeadm-config.yaml';

/** What kubeadm's preflight must be told to accept: the manifests kha put there first, in static-pods mode. */
export function ignoredPreflightErrors(inv: Inventory): string[] {
  return inv.staticPods ? [MANIFESTS_DIR_CHECK] : [];
}

function configText(inv: Inventory, api: KubeadmApi, version: KubernetesVersion | undefined, first: Master): string {
  const endpoint = controlPlaneEndpoint(inv);
  const lines = [
    `# For kubeadm init on ${first.name}, made by kha from ${inv.file}.`,
    ...endpointComment(inv, first, endpoint),
    `apiVersion: ${api}`,
    'kind: InitConfiguration',
    'localAPIEndpoint:',
    `  # ${first.name}'s own apiserver: its address, and the port it binds${carriesEndpoint(inv, first) ? ` (haproxy on this host holds ${inv.port}, the VIP's port)` : ''}.`,
    `  advertiseAddress: ${first.address}`,
    `  bindPort: ${first.apiserverPort}`,
    ...(inv.staticPods
      ? [
          'nodeRegistration:',
          `  # kha wrote the keepalived and haproxy static pods into ${inv.staticPods.manifestsDir} before kubeadm:`,
          '  # kubeadm\'s preflight (DirAvailable, in joins before 1.23) refuses a non-empty manifests directory;',
          '  # ignoring that check costs nothing where it no longer runs.',
          '  ignorePreflightErrors:',
          ...ignoredPreflightErrors(inv).map((e) => `    - ${e}`),
        ]
      : []),
    '---',
    `apiVersion: ${api}`,
    'kind: ClusterConfiguration',
  ];
  if (version) lines.push(`kubernetesVersion: ${version.text}`);
  lines.push(`controlPlaneEndpoint: "${endpoint}"`);
  const sans = certSans(inv);
  // No VIP and no kubelet pointed at 127.0.0.1: kubeadm's own names are all a client uses.
  if (sans.length === 0) return `${lines.join('\n')}\n`;
  lines.push(
    'apiServer:',
    '  # Clients reach the apiservers by these names as well as their own addresses:',
    `  # without them kubectl through ${inv.vip ? 'the VIP' : 'the local proxy'} fails with an x509 error.`,
    ...(inv.nodeProxy?.kubelet
      ? [
          `  # ${LOCAL_PROXY_SAN}: node_proxy.kubelet points kubelets at https://${LOCAL_PROXY_SAN}:${inv.nodeProxy.port}, the local proxy.`,
          "  # A running cluster's masters need their certificate issued again with it:",
          '  # kubeadm init phase certs apiserver, on each master (kha docs/node-proxy.md).',
        ]
      : []),
    '  certSANs:',
    ...sans.map((s) => `    - "${s}"`),
  );
  return `${lines.join('\n')}\n`;
}

export function kubeadmHandoff(inv: Inventory, version?: KubernetesVersion): Handoff {
  const [first, ...others] = inv.masters;
  if (!first) throw new InputError(`${inv.file}: no masters: kubeadm needs at least one`);
  const api = apiFor(version);
  const endpoint = controlPlaneEndpoint(inv);
  const ignore = ignoredPreflightErrors(inv);
  const ignoreFlag = ignore.length > 0 ? [`--ignore-preflight-errors=${ignore.join(',')}`] : [];
  const joinLine = (m: Master) =>
    [
      `kubeadm join ${endpoint} --token <token> --discovery-token-ca-cert-hash sha256:<hash>`,
      `--control-plane --certificate-key <key> --apiserver-advertise-address ${m.address}`,
      ...(m.apiserverPort === 6443 ? [] : [`--apiserver-bind-port ${m.apiserverPort}`]),
      ...ignoreFlag,
    ].join(' ');
  return {
    apiVersion: api,
    ...(version ? { kubernetesVersion: version.text } : {}),
    controlPlaneEndpoint: endpoint,
    certSans: certSans(inv),
    init: { master: first.name, command: `kubeadm init --config ${CONFIG_FILE} --upload-certs` },
    join: others.map((m) => ({ master: m.name, command: joinLine(m) })),
    masters: inv.masters.map((m) => ({ name: m.name, address: m.address, bindPort: m.apiserverPort, carriesEndpoint: carriesEndpoint(inv, m) })),
    config: configText(inv, api, version, first),
    ignorePreflightErrors: ignore,
  };
}

/** The steps after the configuration, for people. */
export function handoffSteps(h: Handoff, file: string): string[] {
  const lines = [
    `1. on ${h.init.master}: ${h.init.command.replace(CONFIG_FILE, file)}`,
    `   (it prints the token, the CA hash and the certificate key the joins below need)`,
  ];
  if (h.ignorePreflightErrors.length > 0) {
    lines.push(
      `   (static pods: kha's keepalived and haproxy manifests are already in the manifests directory, which kubeadm's preflight may want empty;`,
      `   the configuration sets nodeRegistration.ignorePreflightErrors: ${h.ignorePreflightErrors.join(', ')}; without --config add --ignore-preflight-errors=${h.ignorePreflightErrors.join(',')})`,
    );
  }
  h.join.forEach((j, i) => lines.push(`${i + 2}. on ${j.master}: ${j.command}`));
  lines.push(`${h.join.length + 2}. workers: kubeadm join ${h.controlPlaneEndpoint} --token <token> --discovery-token-ca-cert-hash sha256:<hash>`);
  const split = h.masters.filter((m) => m.carriesEndpoint);
  if (split.length > 0) {
    const port = h.controlPlaneEndpoint.slice(h.controlPlaneEndpoint.lastIndexOf(':') + 1);
    lines.push(
      `ports: clients use ${port} on the VIP (haproxy on ${split.map((m) => m.name).join(', ')}); each apiserver binds its own port (${[...new Set(split.map((m) => m.bindPort))].join(', ')}), which haproxy forwards to`,
    );
  }
  return lines;
}
