import type { IPod } from 'kubernetes-models/v1/Pod';
import { type Inventory, type StaticPodSettings, vipOf } from '../../inventory/model.js';
import type { FileSpec, RenderedFile } from '../../render/catalog.js';
import { haproxyContext, keepalivedEndContext } from '../../render/context.js';
import { renderSpec } from '../../render/spec.js';
import { asPositional, BASH_SYNTAX, HAPROXY_VALIDATE, inImageValidate, KEEPALIVED_VALIDATE, UNCHECKED_MARK } from '../../render/validators.js';
import { filesDigest } from '../../tasks/services.js';
import { FILES as DEDICATED_FILES } from '../dedicated/files.js';
import { HANDOVER_FILES } from './handover.js';
import { haproxyPod, KEEPALIVED_WRAPPER, keepalivedPod, manifestContext, manifestText, podSchemaProblems, SHUTDOWN_MARKER } from './manifests.js';

// The static-pods catalogue: the dedicated topology's check script, release
// script, keepalived.conf, haproxy.cfg and sysctl file (one template each,
// shared), checked by the images that will read them; the wrapper that
// keepalived's container runs keepalived under (in place of the systemd
// drop-in: there is no keepalived unit); kha-handover's files, which order
// the containers' stop at shutdown (handover.ts); then the two Pod manifests.
// Manifests come last, so that a kubelet that sees a new manifest finds the
// files it mounts already there.

function shared(id: string): FileSpec {
  const spec = DEDICATED_FILES.find((f) => f.id === id);
  if (!spec) throw new Error(`dedicated catalogue has no ${id}`);
  return spec;
}

/**
 * The wrapper, checked in keepalived's image: bash reads it, and `ip` must be
 * there to take the VIP off after keepalived died (without it the kubelet's
 * back-off is a time of two holders: refused). An image without `ss` or
 * `setsid` still holds the VIP safely, but leaves held connections to their
 * own timeouts when the VIP leaves: said as a warning, the file installed.
 */
export const WRAPPER_IN_IMAGE = [
  'bash -n "$1" || exit 1',
  'command -v ip >/dev/null || { echo "this image has no ip (iproute2): the pod could not take the VIP off after keepalived died" >&2; exit 1; }',
  `for t in ss setsid; do command -v "$t" >/dev/null || echo "${UNCHECKED_MARK}checked, but this image has no $t: connections held through the VIP are not reset when it leaves this host"; done`,
  'exit 0',
].join('\n');

export const MANIFEST_IDS: ReadonlySet<string> = new Set(['haproxy.yaml', 'keepalived.yaml']);

export function isManifest(f: RenderedFile): boolean {
  return MANIFEST_IDS.has(f.spec.id);
}

export function staticPodFiles(sp: StaticPodSettings): FileSpec[] {
  const config: FileSpec[] = [
    // keepalived runs both scripts inside its container, with the image's bash and tools.
    { ...shared('check-haproxy'), validate: inImageValidate(sp.keepalivedImage, 'bash', asPositional(BASH_SYNTAX)) },
    { ...shared('release-connections'), validate: inImageValidate(sp.keepalivedImage, 'bash', asPositional(BASH_SYNTAX)) },
    {
      id: 'keepalived-wrapper',
      template: 'kha-keepalived-pod.sh.ejs',
      path: KEEPALIVED_WRAPPER,
      mode: 0o755,
      service: 'keepalived',
      validate: inImageValidate(sp.keepalivedImage, 'bash', WRAPPER_IN_IMAGE),
      // /run: where keepalived keeps its pid files inside the container.
      context: (inv, lb, iface) => ({ ...keepalivedEndContext(inv, lb, iface), runDir: '/run', marker: SHUTDOWN_MARKER }),
    },
    { ...shared('keepalived.conf'), validate: inImageValidate(sp.keepalivedImage, 'keepalived', asPositional(KEEPALIVED_VALIDATE)) },
    {
      ...shared('haproxy.cfg'),
      // A container has no /dev/log; the kubelet keeps what it prints.
      context: (inv, lb) => ({ ...haproxyContext(inv, lb), log: 'stdout format raw' }),
      validate: inImageValidate(sp.haproxyImage, 'haproxy', asPositional(HAPROXY_VALIDATE)),
    },
    shared('sysctl'),
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
    ...HANDOVER_FILES,
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
        'keepalived runs under kha-keepalived-pod.sh, which takes the VIP off and resets the connections held through it however keepalived ends.',
        'The config-hash annotation changes with keepalived.conf and its scripts, so the kubelet restarts keepalived on a new configuration.',
      ],
      (_inv, hash) => keepalivedPod(sp, hash),
    ),
  ];
}
