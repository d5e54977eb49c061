import { masterDownUs, seconds } from '../explain/timing.js';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { LineCounter, isMap, isSeq, isScalar, type Document } from 'yaml';
import { InputError, type Problem } from '../errors.js';
import { Secret } from '../secret.js';
import { parseCidr } from './addresses.js';
import { describeIssues, GENERIC, type Finding } from './describe.js';
import { formatPath, Locator } from './locate.js';
import type { Inventory, SshSettings } from './model.js';
import { DEFAULT_HAPROXY_IMAGE, hostsFileSchema, nodeProxyDefaults, type HostsFile } from './schema.js';
import { kubeletHosts } from '../topology/roles.js';
import { envValue } from './secrets.js';
import { DEFAULT_V3_ADVERT_S, lbList, resolvePriorities, resolveVrrp, semanticFindings } from './semantic.js';
import { Anchors, entryLimitProblem, parseYaml, yamlProblems, type YamlProblem } from './yaml.js';

/** hosts.yaml describes a handful of hosts; anything this large is a wrong file. */
export const MAX_FILE_BYTES = 1024 * 1024;

/**
 * How far checking got before it stopped: problems of a later stage are only
 * looked for once the earlier ones are fixed (values cannot be related to one
 * another before each has the right shape).
 */
export type Stage = 'file' | 'syntax' | 'shape' | 'semantic';

export type LoadResult = { ok: true; inventory: Inventory } | { ok: false; stage: Stage; problems: Problem[] };

/** Said after the problems when checking stopped early, so that new problems after these are fixed are no surprise. */
const LATER_CHECKS: Readonly<Record<Stage, string>> = {
  file: '',
  syntax: '; the keys and values are checked once the YAML parses',
  shape: '; checks across values (subnet, priorities, duplicates, secrets) run once these are fixed',
  semantic: '',
};

/** `hosts.yaml is not valid: 3 problems` and what is still unchecked: the closing line for people. */
export function notValidLine(file: string, result: { stage: Stage; problems: readonly Problem[] }): string {
  const n = result.problems.length;
  return `${file} is not valid: ${n} problem${n === 1 ? '' : 's'}${LATER_CHECKS[result.stage]}`;
}

/** At most this many alias expansions: enough for any hosts file, too few for a "billion laughs" file. */
const MAX_ALIAS_COUNT = 100;

function at(file: string, pos: { line: number; column: number }, path: string, message: string): Problem {
  return { file, line: pos.line, column: pos.column, path, message };
}

/** line:column of an offset, where no parser has counted the lines. */
function positionIn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}

function yamlToProblems(file: string, lines: LineCounter, problems: readonly YamlProblem[]): Problem[] {
  return problems.map((p) => {
    const { line, col } = lines.linePos(p.offset);
    return at(file, { line, column: col }, '', `YAML: ${p.message}`);
  });
}

/** File order, so that a person can work down the list. */
function byPosition(problems: Problem[]): Problem[] {
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}

function findingsToProblems(file: string, locator: Locator, findings: readonly Finding[]): Problem[] {
  return byPosition(findings.map((f) => at(file, f.atKey ? locator.keyOf(f.path) : locator.value(f.path), formatPath(f.path), f.message)));
}

function resolveSecret(value: string | undefined, env: NodeJS.ProcessEnv, file: string): Secret | undefined {
  if (value === undefined) return undefined;
  if (value.startsWith('env:')) {
    const name = value.slice(4);
    return new Secret(envValue(env, name) ?? '', `env:${name}`);
  }
  return new Secret(value, file);
}

function sshSettings(f: HostsFile, override: NonNullable<HostsFile['nodes']>[number]['ssh'], env: NodeJS.ProcessEnv, file: string): SshSettings {
  const s = { ...f.ssh, ...Object.fromEntries(Object.entries(override ?? {}).filter(([, v]) => v !== undefined)) };
  const settings: SshSettings = {
    user: s.user,
    port: s.port,
    knownHosts: s.known_hosts,
    sudo: s.sudo,
    connectTimeoutS: s.connect_timeout,
  };
  if (s.identity_file !== undefined) settings.identityFile = s.identity_file;
  if (s.jump !== undefined) settings.jump = s.jump;
  const password = resolveSecret(s.sudo_password, env, file);
  if (password) settings.sudoPassword = password;
  return settings;
}

/** The priority of the backup that takes over from the primary: the second highest. */
function backupPriority(priorities: readonly number[]): number {
  return [...priorities].sort((a, b) => b - a)[1] ?? priorities[0]!;
}

function toInventory(f: HostsFile, file: string, env: NodeJS.ProcessEnv): Inventory {
  const { version, advertInt } = resolveVrrp(f.keepalived);
  const lbs = lbList(f);
  const priorities = resolvePriorities(lbs);
  const top = Math.max(...priorities);
  const k = f.keepalived;
  const vip = f.cluster.vip === undefined ? undefined : parseCidr(f.cluster.vip);
  const notes: string[] = [];
  if (version === 2 && k.auth_pass !== undefined && lbs.length > 0) {
    notes.push(
      `auth_pass is set, so VRRPv2 with whole-second adverts (advert_int ${advertInt} s): a crashed holder is replaced after about ${seconds(masterDownUs({ version: 2, advertIntS: advertInt }, backupPriority(priorities))).toFixed(2)} s. Without auth_pass kha uses VRRPv3 with ${DEFAULT_V3_ADVERT_S} s adverts (about ${seconds(masterDownUs({ version: 3, advertIntS: DEFAULT_V3_ADVERT_S }, backupPriority(priorities))).toFixed(2)} s).`,
    );
  }
  if (vip?.prefix === null) {
    notes.push(`cluster.vip has no prefix: the VIP is added as ${vip.address}/32, and its subnet is checked on the hosts at apply time.`);
  }
  const inv: Inventory = {
    file,
    port: f.cluster.port,
    keepalived: {
      version,
      advertInt,
      routerId: k.virtual_router_id,
      unicast: k.unicast,
      preempt: k.preempt,
      preemptDelay: k.preempt_delay,
      garpMasterDelay: k.garp_master_delay,
      garpMasterRepeat: k.garp_master_repeat,
      garpMasterRefresh: k.garp_master_refresh,
      check: { interval: k.check_interval, timeout: k.check_timeout, fall: k.check_fall, rise: k.check_rise },
    },
    haproxy: f.haproxy,
    security: f.security,
    drills: {
      partitionSeconds: f.drills.partition_seconds,
      maxOutageMs: Object.fromEntries(
        Object.entries(f.drills.max_outage).flatMap(([k, v]) => (v === undefined ? [] : [[k, Math.round(v * 1000)]])),
      ),
    },
    lbs: lbs.map((h, i) => {
      const lb = {
        name: h.name,
        address: h.address,
        priority: priorities[i]!,
        primary: priorities[i] === top,
        ssh: sshSettings(f, h.ssh, env, file),
      };
      return h.interface === undefined ? lb : { ...lb, interface: h.interface };
    }),
    masters: f.masters.map((h) => ({
      name: h.name,
      address: h.address,
      apiserverPort: h.apiserver_port,
      ssh: sshSettings(f, h.ssh, env, file),
    })),
    nodes: (f.nodes ?? []).map((h) => ({ name: h.name, address: h.address, ssh: sshSettings(f, h.ssh, env, file) })),
    notes,
  };
  const authPass = resolveSecret(k.auth_pass, env, file);
  if (authPass) inv.keepalived.authPass = authPass;
  if (vip) inv.vip = vip;
  if (f.cluster.dns_name !== undefined) inv.dnsName = f.cluster.dns_name;
  if (f.operator?.netns !== undefined) inv.operatorNetns = f.operator.netns;
  if (f.static_pods !== undefined) {
    const sp = f.static_pods;
    inv.staticPods = { keepalivedImage: sp.keepalived_image, haproxyImage: sp.haproxy_image, manifestsDir: sp.manifests_dir };
  }
  if (f.kubelet !== undefined) inv.kubelet = { http2ReadIdleTimeoutS: f.kubelet.http2_read_idle_timeout_s, http2PingTimeoutS: f.kubelet.http2_ping_timeout_s };
  if (f.nodes !== undefined || f.node_proxy !== undefined) {
    // nodes without node_proxy take its defaults; node_proxy without a host to
    // run on is refused (semantic.ts), so here some host gets the proxy.
    const np = f.node_proxy ?? nodeProxyDefaults;
    inv.nodeProxy = { port: np.port, software: np.software, healthPort: np.health_port, masters: np.masters, kubelet: np.kubelet };
    if (np.check_inter_ms !== undefined) inv.nodeProxy.checkInterMs = np.check_inter_ms;
    // nginx has no default image (semantic.ts refuses it without one): here it has one.
    if (np.static_pod !== undefined) inv.nodeProxy.staticPod = { image: np.static_pod.image ?? DEFAULT_HAPROXY_IMAGE, manifestsDir: np.static_pod.manifests_dir };
    const how = np.static_pod ? "kha apply writes the local proxy's static pod on these hosts, for their kubelets to run," : 'kha apply installs and runs the local proxy on these hosts';
    notes.push(
      np.kubelet
        ? `${how} and points each kubelet's kubeconfig at it (node_proxy.kubelet); verify-failover's node drills measure it from the first node (docs/node-proxy.md)`
        : `${how}; the kubelet's kubeconfig is pointed at it only with node_proxy.kubelet: true (docs/node-proxy.md)`,
    );
    if (!vip) notes.push(...withoutVip(inv.masters[0]!.name, np));
  }
  if (inv.kubelet) notes.push(...kubeletNotes(inv, inv.kubelet));
  return inv;
}

/** The node controller marks a node NotReady after this long without its status (kube-controller-manager's default before 1.32). */
const NODE_MONITOR_GRACE_S = 40;

function kubeletNotes(inv: Inventory, k: NonNullable<Inventory['kubelet']>): string[] {
  const names = kubeletHosts(inv).map((h) => h.name);
  const total = k.http2ReadIdleTimeoutS + k.http2PingTimeoutS;
  const notes = [
    `kha apply sets client-go's HTTP/2 health check for the kubelets of ${names.join(', ')} (a drop-in of kubelet.service, each running kubelet restarted once): a watch on a dead path is closed after ${k.http2ReadIdleTimeoutS} s + ${k.http2PingTimeoutS} s (client-go's own defaults: 30 s + 15 s; docs/live-connections.md)`,
  ];
  if (total >= NODE_MONITOR_GRACE_S) {
    notes.push(`kubelet: ${k.http2ReadIdleTimeoutS} s + ${k.http2PingTimeoutS} s is not under the node controller's grace period (${NODE_MONITOR_GRACE_S} s by default): a kubelet stuck that long is marked NotReady before it reconnects`);
  }
  return notes;
}

/**
 * Source 001's pitfall: kubeadm points every kubelet at controlPlaneEndpoint,
 * which without a VIP is one master (kha kubeadm's choice, kubeadm/handoff.ts),
 * until each kubelet is pointed elsewhere.
 */
function withoutVip(first: string, np: HostsFile['node_proxy'] & object): string[] {
  const single = `kubeadm points every kubelet at controlPlaneEndpoint, which without a VIP is ${first}'s apiserver: a single point of failure`;
  if (!np.kubelet) return [`No VIP: ${single} until node_proxy.kubelet: true lets kha apply point each kubelet at its local proxy.`];
  if (!np.masters) return [`No VIP: ${single} for the masters' kubelets, which only node_proxy.masters: true gives a local proxy to be pointed at.`];
  return [];
}

/** Parses and checks hosts.yaml text; `file` is the name used in messages. */
export function parseInventory(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  const fail = (stage: Stage, problems: Problem[]): LoadResult => ({ ok: false, stage, problems });
  const lines = new LineCounter();
  const read = parseYaml(text, lines);
  if ('refused' in read) return fail('file', [at(file, positionIn(text, read.refused.offset), '', `YAML: ${read.refused.message}`)]);
  const { docs } = read;
  const isEmpty = (d: Document) => d.errors.length === 0 && (d.contents === null || (isScalar(d.contents) && d.contents.value === null));
  if (docs.every(isEmpty)) {
    return fail('file', [at(file, { line: 1, column: 1 }, '', 'is empty; start from examples/hosts.yaml or run kha setup')]);
  }
  if (docs.length > 1) {
    const { line, col } = lines.linePos(docs[1]!.range[0]);
    return fail('syntax', [
      at(file, { line, column: col }, '', 'holds more than one YAML document (a line --- starts another); put everything in one document and remove the ---'),
    ]);
  }
  const doc = docs[0]!;
  const anchors = new Anchors(doc);
  const tooBig = entryLimitProblem(doc, anchors);
  if (tooBig) return fail('file', yamlToProblems(file, lines, [tooBig]));
  const syntax = yamlToProblems(file, lines, yamlProblems(doc, anchors));
  if (syntax.length > 0) return fail('syntax', byPosition(syntax));
  if (!isMap(doc.contents)) {
    const kind = isSeq(doc.contents) ? 'a list' : 'a single value';
    const start = doc.contents?.range ? lines.linePos(doc.contents.range[0]) : { line: 1, col: 1 };
    return fail('shape', [
      at(file, { line: start.line, column: start.col }, '', `top level is ${kind}; it must be a map with the keys cluster, lb and masters (see examples/hosts.yaml)`),
    ]);
  }
  const locator = new Locator(doc, lines, anchors);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // Unresolved aliases were reported above, so only the expansion limit is left to throw.
    if (!(err instanceof ReferenceError)) throw err;
    return fail('syntax', [
      at(file, { line: 1, column: 1 }, '', `YAML: aliases expand to more than ${MAX_ALIAS_COUNT} copies; a hosts file needs only a few, so this looks like a file made to exhaust memory`),
    ]);
  }
  const parsed = hostsFileSchema.safeParse(raw, { error: () => GENERIC, reportInput: true });
  if (!parsed.success) {
    return fail('shape', findingsToProblems(file, locator, describeIssues(hostsFileSchema, parsed.error.issues)));
  }
  const semantic = semanticFindings(parsed.data, env);
  if (semantic.length > 0) return fail('semantic', findingsToProblems(file, locator, semantic));
  return { ok: true, inventory: toInventory(parsed.data, file, env) };
}

/** Reads and checks hosts.yaml from disk, refusing files that cannot be one before parsing. */
export async function loadInventoryFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadResult> {
  const file = path;
  const whole = (message: string): LoadResult => ({ ok: false, stage: 'file', problems: [at(file, { line: 1, column: 1 }, '', message)] });
  let size: number;
  try {
    const st = await stat(path);
    if (st.isDirectory()) return whole(`is a directory; give the path of hosts.yaml`);
    size = st.size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return whole(`does not exist; create it (kha setup, or copy examples/hosts.yaml)`);
    if (code === 'EACCES') return whole(`cannot be read: permission denied`);
    return whole(`cannot be read: ${(err as Error).message}`);
  }
  if (size > MAX_FILE_BYTES) {
    return whole(`is ${(size / 1024 / 1024).toFixed(1)} MiB; a hosts file is a few KiB, at most ${MAX_FILE_BYTES / 1024 / 1024} MiB: is this the right file (${basename(path)})?`);
  }
  const bytes = await readFile(path);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    const before = bytes.subarray(0, offset).toString('utf8');
    return { ok: false, stage: 'file', problems: [at(file, positionIn(before, before.length), '', `is not valid UTF-8 (byte 0x${bytes[offset]?.toString(16).padStart(2, '0')} at offset ${offset}); save it as UTF-8`)] };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return parseInventory(text, file, env);
}

/** Offset of the first byte that does not continue a valid UTF-8 sequence. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const extra = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
    if (extra < 0) return i;
    for (let k = 1; k <= extra; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
    }
    i += extra + 1;
  }
  return i;
}

/** Loads or throws InputError carrying every problem: for commands that need an inventory. */
export async function requireInventory(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Inventory> {
  const result = await loadInventoryFile(path, env);
  if (result.ok) return result.inventory;
  throw new InputError(`${notValidLine(path, result)}; nothing was changed`, result.problems);
}
