import type { IPod } from 'kubernetes-models/v1/Pod';
import { type Inventory, type StaticPodSettings, vipOf } from '../../inventory/model.js';
import type { FileSpec, RenderedFile } from '../../render/catalog.js';
import { endpointSysctls, haproxyContext, keepalivedContext } from '../../render/context.js';
import { renderSpec } from '../../render/spec.js';
import { asPositional, BASH_SYNTAX, HAPROXY_VALIDATE, inImageValidate, KEEPALIVED_VALIDATE } from '../../render/validators.js';
import { filesDigest } from '../../tasks/services.js';
import { FILES as DEDICATED_FILES } from '../dedicated/files.js';
import { haproxyPod, keepalivedPod, manifestContext, manifestText, podSchemaProblems } from './manifests.js';

// The static-pods catalogue: the dedicated topology's keepalived.conf (without
// the release script), check script, haproxy.cfg and sysctl file (one template
// each, shared), checked by the images that will read them, then the two Pod
// manifests. No systemd
// drop-in: there is no keepalived unit. Manifests come last, so that a
// kubelet that sees a new manifest finds the files it mounts already there.

function shared(id: string): FileSpec {
  const spec = DEDICATED_FILES.find((f) => f.id === id);
  if (!spec) throw new Error(`dedicated catalogue has no ${id}`);
  return spec;
}

export const MANIFEST_IDS: ReadonlySet<string> = new Set(['haproxy.yaml', 'keepalived.yaml']);

export function isManifest(f: RenderedFile): boolean {
  return MANIFEST_IDS.has(f.spec.id);
}

export function staticPodFiles(sp: StaticPodSettings): FileSpec[] {
  const config: FileSpec[] = [
    // keepalived runs the script inside its container, with the image's bash.
    { ...shared('check-haproxy'), validate: inImageValidate(sp.keepalivedImage, 'bash', asPositional(BASH_SYNTAX)) },
    {
      ...shared('keepalived.conf'),
      // The release script needs ip and ss, which an image need not carry (docs/live-connections.md).
      context: (inv, lb, iface) => ({ ...keepalivedContext(inv, lb, iface), release: null }),
      validate: inImageValidate(sp.keepalivedImage, 'keepalived', asPositional(KEEPALIVED_VALIDATE)),
    },
    {
      ...shared('haproxy.cfg'),
      // A container has no /dev/log; the kubelet keeps what it prints.
      context: (inv, lb) => ({ ...haproxyContext(inv, lb), log: 'stdout format raw' }),
      validate: inImageValidate(sp.haproxyImage, 'haproxy', asPositional(HAPROXY_VALIDATE)),
    },
    { ...shared('sysctl'), when: (inv) => inv.haproxy.bind === 'vip', context: (inv, lb) => endpointSysctls(inv, lb, false) },
  ];
  /**
   * What a pod reads, hashed into its manifest: new files make a new
   * manifest, and the kubelet restarts the pod. 128 bits of the sha256, 32
   * hex digits: podman before 5.0 refuses annotation values over 63
   * characters (the full 64 would stop `podman kube play` on Debian 12).
   */
  const hash =
    (service: 'keepalived' | 'haproxy') =>
    (...[inv, lb, iface]: Parameters<FileSpec['context']>): string =>
      filesDigest(
        config.filter((s) => s.service === service && (s.when?.(inv, lb) ?? true)).map((s) => renderSpec(s, s.context(inv, lb, iface))),
        service,
      ).slice(0, 32);
  /** A manifest: `pod` gets the hash of what its service reads on this host. */
  const manifest = (
    service: 'keepalived' | 'haproxy',
    about: (inv: Inventory) => string[],
    pod: (inv: Inventory, hash: string) => IPod,
  ): FileSpec => ({
    id: `${service}.yaml`,
    template: manifestText,
    path: `${sp.manifestsDir}/${service}.yaml`,
    mode: 0o600,
    service,
    check: podSchemaProblems,
    kubeletReads: true,
    context: (inv, lb, iface) => manifestContext(lb, about(inv), pod(inv, hash(service)(inv, lb, iface))),
  });
  return [
    ...config,
    manifest(
      'haproxy',
      (inv) => [
        "haproxy as a static pod of this master's kubelet, reading /etc/haproxy/haproxy.cfg (kha writes it beside this file).",
        `Liveness asks haproxy's own health page on 127.0.0.1:${inv.haproxy.monitor_port}, never the apiservers: it holds before kubeadm init too.`,
        'The config-hash annotation changes with haproxy.cfg, so the kubelet restarts haproxy on a new configuration.',
      ],
      (inv, hash) => haproxyPod(inv, sp, hash),
    ),
    manifest(
      'keepalived',
      (inv) => [
        `keepalived as a static pod of this master's kubelet: it holds the VIP ${vipOf(inv).address} on the host's network,`,
        'with only the capabilities VRRP needs (NET_ADMIN, NET_BROADCAST, NET_RAW), and tracks haproxy through kha-check-haproxy.sh.',
        'The config-hash annotation changes with keepalived.conf and the script, so the kubelet restarts keepalived on a new configuration.',
      ],
      (_inv, hash) => keepalivedPod(sp, hash),
    ),
  ];
}
