import type { HostFacts, OsFamily, ProbeRequest } from '../facts/types.js';
import type { Inventory, NodeProxySettings } from '../inventory/model.js';
import type { Change } from '../plan/changes.js';
import type { RenderedFile } from '../render/catalog.js';
import { STATE_DIR } from '../tasks/directories.js';
import { planFiles } from '../tasks/files.js';
import { markerPath, planService } from '../tasks/services.js';
import type { ProxyHost } from '../topology/roles.js';
import { isPodFile, NODE_PROXY_POD_RECORD, NODE_PROXY_UNIT } from './files.js';
import { NODE_PROXY_DIR } from './paths.js';
import { NODE_PROXY_CONFIG, proxyManifestPath, proxyPodProcess } from './pod.js';
import { KUBECONFIG_TARGETS, kubeletTask, restartPendingPath } from './kubelet.js';

// The local proxy's tasks (docs/node-proxy.md): what apply does on a host
// that gets the proxy, beside the tasks of any other role it has. Pure, as
// every task: inventory + facts -> changes, so --dry-run shows what apply runs.

/** The proxy's own systemd unit (files.ts writes it): never the distribution's haproxy or nginx. */
export const NODE_PROXY_SERVICE = 'kha-node-proxy';

/**
 * The packages each software needs, from the host's own repositories. nginx
 * proxies TCP with its stream module, a package of its own on both families
 * (libnginx-mod-stream on Debian/Ubuntu, nginx-mod-stream on RHEL 8 and later).
 */
export function proxyPackages(software: NodeProxySettings['software'], family: OsFamily): string[] {
  if (software === 'haproxy') return ['haproxy'];
  return ['nginx', family === 'rhel' ? 'nginx-mod-stream' : 'libnginx-mod-stream'];
}

/** Every package either software may need on any family: the probe reports them all, so a switch of software is planned from facts. */
const PROBED = [...new Set((['haproxy', 'nginx'] as const).flatMap((s) => [...proxyPackages(s, 'debian'), ...proxyPackages(s, 'rhel')]))];

/** The ports the proxy binds on 127.0.0.1, with the key of hosts.yaml that sets each. */
export function proxyPortKeys(inv: Inventory): [number, string][] {
  return [
    [inv.nodeProxy!.port, 'node_proxy.port'],
    [inv.nodeProxy!.healthPort, 'node_proxy.health_port'],
  ];
}

function proxyPorts(inv: Inventory): number[] {
  return proxyPortKeys(inv).map(([p]) => p);
}

/** What the probe reads on a proxy host for these tasks to decide. */
export function nodeProxyProbe(inv: Inventory): ProbeRequest {
  // Every file of either way to run it, and the record of a manifest written before: a switch is planned from facts.
  const pod = inv.nodeProxy?.staticPod;
  const files = [...Object.values(NODE_PROXY_CONFIG), NODE_PROXY_UNIT, NODE_PROXY_POD_RECORD, ...(pod ? [proxyManifestPath(pod.manifestsDir)] : [])];
  // The kubelet's kubeconfig may hold its client key: read only when hosts.yaml asks kha to point it.
  const clients = inv.nodeProxy?.kubelet ? KUBECONFIG_TARGETS : [];
  return {
    files: [...files, markerPath(NODE_PROXY_SERVICE), ...clients.flatMap((t) => [t.path, restartPendingPath(t.service)])],
    directories: [NODE_PROXY_DIR, STATE_DIR],
    services: [NODE_PROXY_SERVICE, 'haproxy', 'nginx', ...clients.map((t) => t.service)],
    sysctls: [],
    selinuxBooleans: [],
    apiservers: inv.masters.map((m) => ({ name: m.name, address: m.address, port: m.apiserverPort })),
    packages: PROBED,
    ports: proxyPorts(inv),
    portsOwner: `${NODE_PROXY_DIR}/`,
  };
}

export interface ProxyTaskContext {
  inv: Inventory;
  host: ProxyHost;
  facts: HostFacts;
  /** The proxy's files for this host (render.ts renderNodeProxy). */
  files: RenderedFile[];
  planned: readonly Change[];
  /** The host is a load balancer too: its haproxy.service is the endpoint's, never the proxy's to touch. */
  alsoLoadBalancer: boolean;
}

export interface ProxyTask {
  name: string;
  purpose: string;
  plan(ctx: ProxyTaskContext): Change[];
}

function installed(facts: HostFacts, pkg: string): boolean {
  return (facts.packageVersions?.[pkg] ?? null) !== null;
}

const packages: ProxyTask = {
  name: 'node-proxy-packages',
  purpose: "the proxy's software is installed from the host's own repositories; a distribution service the install started is stopped and disabled",
  plan({ inv, facts, planned, alsoLoadBalancer }) {
    // As a static pod the image carries the software; kha never removes a package it installed before.
    if (inv.nodeProxy!.staticPod) return [];
    const software = inv.nodeProxy!.software;
    // A load balancer's own packages task may install haproxy in this run already.
    const coming = new Set(planned.flatMap((c) => (c.kind === 'package.install' ? c.packages : [])));
    const missing = proxyPackages(software, facts.os.family).filter((p) => !installed(facts, p) && !coming.has(p));
    if (missing.length === 0) return [];
    const changes: Change[] = [{ kind: 'package.install', manager: facts.packageManager, packages: missing }];
    // Debian starts a package's service on install (nginx then holds port 80).
    // kha runs its own unit, so the one it just brought up is stopped and
    // disabled; one that was installed before kha came is the user's and left
    // alone, as is a load balancer's haproxy, which the endpoint runs.
    const ownService = software === 'haproxy' ? 'haproxy' : 'nginx';
    if (missing.includes(ownService) && !(alsoLoadBalancer && ownService === 'haproxy')) {
      changes.push({ kind: 'service.disable', service: ownService, why: `started by its package; kha runs ${NODE_PROXY_SERVICE} instead` });
    }
    return changes;
  },
};

/** A write of the proxy's unit that changes what it runs (haproxy <-> nginx, or a new kha's unit). */
function unitRewrite(c: Change): boolean {
  return c.kind === 'file.write' && c.path === NODE_PROXY_UNIT && !c.modeOnly && c.previous !== null;
}

/** The proxy runs here: the node's kubelet may depend on it, so changing it is changing a host that serves. */
export function proxyRunning(facts: HostFacts): boolean {
  return facts.services.find((s) => s.name === NODE_PROXY_SERVICE)?.active === 'active';
}

const files: ProxyTask = {
  name: 'node-proxy-files',
  purpose: "the proxy's configuration and unit, validated by the real binary before the swap; systemd has read the unit",
  plan({ facts, files: rendered }) {
    const dirs: Change[] = [NODE_PROXY_DIR, STATE_DIR]
      .filter((path) => !facts.directories.find((d) => d.path === path)?.exists)
      .map((path) => ({ kind: 'directory.create', path, mode: 0o755, owner: 'root', group: 'root' }));
    const writes = planFiles(facts, rendered.filter((f) => !isPodFile(f)));
    // A running proxy whose unit changes stops first, under the unit that
    // started it: systemd stops a service the way its current unit says
    // (nginx's SIGQUIT means nothing to haproxy, which would then be killed
    // only after TimeoutStopSec). The service task starts it on the new one.
    const stop: Change[] = writes.some(unitRewrite) && proxyRunning(facts)
      ? [{ kind: 'service.stop', service: NODE_PROXY_SERVICE, why: 'its unit changes what it runs; it starts again on the new one below' }]
      : [];
    return [...dirs, ...stop, ...writes];
  },
};

/** The manifest kha wrote last (its record), when it is not `keep`: removed, and the kubelet seen to stop it, before anything else runs the proxy. */
function podRemoval(facts: HostFacts, keep: string | undefined, why: string): Change[] {
  const recorded = facts.files.find((f) => f.path === NODE_PROXY_POD_RECORD);
  const manifest = recorded?.exists ? recorded.content?.trim() : undefined;
  if (!manifest || manifest === keep) return [];
  // Either software: the pod may run the one hosts.yaml named before.
  const pods = (['haproxy', 'nginx'] as const).map((software) => proxyPodProcess(software, manifest));
  const removal: Change[] = [{ kind: 'pod.remove', manifest, name: NODE_PROXY_SERVICE, pods, why }];
  // The record goes with it; a pod that stays (static_pod kept, another manifests_dir) writes its own below.
  return keep === undefined ? [...removal, { kind: 'file.remove', path: NODE_PROXY_POD_RECORD, why: 'no static pod of the proxy is left' }] : removal;
}

/**
 * As a static pod: the service stopped and its unit gone first, so that one
 * proxy runs (the pod would find its ports taken, or with haproxy's
 * SO_REUSEPORT share them unseen); a manifest left in another directory
 * removed; then the record and the manifest, which the kubelet starts.
 */
function planPod(ctx: ProxyTaskContext, manifestsDir: string): Change[] {
  const { facts, files: rendered } = ctx;
  const unit = facts.services.find((s) => s.name === NODE_PROXY_SERVICE);
  const why = 'the proxy runs as a static pod (node_proxy.static_pod)';
  const stop: Change[] = unit && (unit.active === 'active' || unit.enabled === 'enabled') ? [{ kind: 'service.disable', service: NODE_PROXY_SERVICE, why }] : [];
  const unitFile = facts.files.find((f) => f.path === NODE_PROXY_UNIT)?.exists
    ? ([{ kind: 'file.remove', path: NODE_PROXY_UNIT, why }, { kind: 'systemd.daemon-reload' }] satisfies Change[])
    : [];
  const manifest = proxyManifestPath(manifestsDir);
  return [...stop, ...unitFile, ...podRemoval(facts, manifest, 'node_proxy.static_pod.manifests_dir names another directory'), ...planFiles(facts, rendered.filter(isPodFile))];
}

const service: ProxyTask = {
  name: 'node-proxy-service',
  purpose: `${NODE_PROXY_SERVICE} runs the configuration on disk: as a service (enabled; only what changed is reloaded) or as a static pod (the manifest written, the service gone)`,
  plan(ctx) {
    const pod = ctx.inv.nodeProxy!.staticPod;
    if (pod) return planPod(ctx, pod.manifestsDir);
    const removal = podRemoval(ctx.facts, undefined, 'the proxy runs as a service (no node_proxy.static_pod)');
    const changes = [...removal, ...planService(ctx, NODE_PROXY_SERVICE)];
    // Stopped above for a new unit (haproxy <-> nginx): it starts, not
    // reloads. The old configuration file stays on disk, read by nothing, and
    // the old package stays installed, as kha never removes packages.
    if (!ctx.planned.some((c) => c.kind === 'service.stop' && c.service === NODE_PROXY_SERVICE)) return changes;
    return changes.map((c) => (c.kind === 'service.reload' ? { kind: 'service.start', service: c.service, marker: c.marker } : c));
  },
};

/** The tasks a playbook may name for the proxy hosts, in the order they make sense. */
export const NODE_PROXY_TASKS: ReadonlyMap<string, ProxyTask> = new Map([packages, files, service, kubeletTask].map((t) => [t.name, t]));
