import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { sshTarget } from '../execute/targets.js';
import { InternalError } from '../errors.js';
import { inSubnet, intToIpv4, IPV4_RE, networkOf } from '../inventory/addresses.js';
import { parseInventory } from '../inventory/load.js';
import type { Inventory, SshSettings, StaticPodSettings } from '../inventory/model.js';
import { DEFAULT_HAPROXY_IMAGE, DEFAULT_MANIFESTS_DIR, imageReferenceVerdict } from '../inventory/schema.js';
import { defaultPriority } from '../inventory/semantic.js';
import { Secret } from '../secret.js';
import type { Session } from '../transport/session.js';
import type { SshTarget } from '../transport/ssh.js';
import { askAddresses } from './addresses.js';
import { discoverLb, type Gather, type LbFinding } from './discover.js';
import type { HostFacts } from '../facts/types.js';
import { probeRequest } from '../plan/plan.js';
import type { PreflightProblem } from '../preflight/checks.js';
import { hostsYamlText } from './hosts-file.js';
import type { PlannedHost, PlannedLb, SetupPlan, SudoPassword } from './plan.js';
import { onTheMasters, TOPOLOGIES } from './plan.js';
import { topologyNamed, topologyOf } from '../topology/of.js';
import type { EndpointTopologyName } from '../topology/topology.js';
import type { Prompter } from './prompter.js';
import { reach, SetupStopped, type ReachDeps } from './reach.js';

// The wizard's flow: ask what a person knows (what to build, addresses,
// how to log in), look at the hosts for the rest (interfaces, a free VIP, a
// free router id, what already runs), check the result with apply's own
// preflight, and return a hosts.yaml that explains its choices. Nothing is
// written here: the command writes what this returns, once confirmed.

export interface WizardDeps extends ReachDeps {
  env: NodeJS.ProcessEnv;
  now(): Date;
  /** gatherFacts on real hosts. */
  gather: Gather;
  /** apply's preflight checks (runChecks on real hosts). */
  check(inv: Inventory, facts: ReadonlyMap<string, HostFacts>, sessions: ReadonlyMap<string, Session>, names: readonly string[]): Promise<PreflightProblem[]>;
}

export interface WizardResult {
  text: string;
  inventory: Inventory;
  /** Problems apply's preflight would stop on, and warnings. */
  findings: { host: string; check: string; message: string; warning?: true }[];
  /** No master's apiserver answered: a first build, kha kubeadm comes next. */
  firstBuild: boolean;
  /** The file holds a secret in clear (a typed sudo password): written 0600. */
  holdsSecret: boolean;
}

/** The checks of apply's preflight the wizard runs once it has a hosts.yaml to check. */
const CHECKS = ['privileges', 'os', 'interface', 'firewall', 'vip', 'router-id', 'vrrp-path'];
const DEFAULT_ROUTER_ID = 51;
// On the masters (as host services or static pods) haproxy shares each master with its apiserver, which keeps 6443.
const PORTS: Record<EndpointTopologyName, number> = { dedicated: 6443, 'on-masters': 8443, 'static-pods': 8443 };

function defaultIdentity(): string | undefined {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(homedir(), '.ssh', f)).find((f) => existsSync(f));
}

function tilde(path: string): string {
  const home = homedir();
  return path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}

interface Answers {
  topology: EndpointTopologyName;
  lbAddresses: string[];
  masterAddresses: string[];
  /** static-pods only. */
  staticPods?: StaticPodSettings;
  ssh: SetupPlan['ssh'];
}

async function askSsh(p: Prompter, was: Inventory | undefined): Promise<SetupPlan['ssh']> {
  const old = was?.lbs[0]?.ssh;
  const user = await p.input({ message: 'SSH user on the hosts', default: old?.user ?? 'root', validate: (v) => (/^[a-z_][a-z0-9_.-]*$/i.test(v) ? true : 'a user name, like root or admin') });
  const port = Number(await p.input({ message: 'SSH port', default: String(old?.port ?? 22), validate: (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535 ? true : 'a port from 1 to 65535') }));
  const identity = (
    await p.input({ message: 'SSH private key (empty: use the SSH agent)', default: old ? (old.identityFile ?? '') : tilde(defaultIdentity() ?? '') })
  ).trim();
  const knownHosts = await p.input({ message: 'known_hosts file (host keys you trust)', default: old?.knownHosts ?? '~/.ssh/known_hosts' });
  let sudo = false;
  let sudoPassword: SudoPassword = { kind: 'none' };
  if (user !== 'root') {
    sudo = await p.confirm({ message: `${user} is not root: run kha's commands through sudo?`, default: true });
    if (sudo) {
      const how = await p.select<SudoPassword['kind']>({
        message: 'sudo password',
        choices: [
          { value: 'none', name: 'none: sudo needs no password for this user (NOPASSWD)' },
          { value: 'env', name: 'from an environment variable (env:NAME): the password stays out of hosts.yaml' },
          { value: 'literal', name: 'type it now: it is written in clear into hosts.yaml (0600)' },
        ],
        default: 'none',
      });
      if (how === 'env') {
        const variable = await p.input({ message: 'environment variable holding the sudo password', default: 'KHA_SUDO_PASSWORD', validate: (v) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? true : 'letters, digits and _, not starting with a digit') });
        sudoPassword = { kind: 'env', variable };
      } else if (how === 'literal') {
        sudoPassword = { kind: 'literal', value: await p.password({ message: 'sudo password', validate: (v) => (v !== '' && !/[\r\n]/.test(v) ? true : 'a password on one line') }) };
      }
    }
  }
  return { user, port, ...(identity ? { identityFile: identity } : {}), knownHosts, sudo, sudoPassword };
}

const NO_OFFICIAL_KEEPALIVED_IMAGE =
  "there is no official keepalived image: build one from your distribution's package (docs/static-pods.md shows how), push it to a registry the masters reach or preload it on each master";

/** The images the static pods run; the manifests directory is not asked: kubeadm's, or the existing file's. */
async function askImages(p: Prompter, was: Inventory | undefined): Promise<StaticPodSettings> {
  const old = was?.staticPods;
  const keepalivedImage = await p.input({
    message: `keepalived image for the static pods, with its tag (${NO_OFFICIAL_KEEPALIVED_IMAGE})`,
    ...(old ? { default: old.keepalivedImage } : {}),
    validate: (v) => (v.trim() === '' ? `required: ${NO_OFFICIAL_KEEPALIVED_IMAGE}` : imageReferenceVerdict(v)),
  });
  const haproxyImage = await p.input({
    message: "haproxy image for the static pods (the official one by default; a private registry's copy works offline)",
    default: old?.haproxyImage ?? DEFAULT_HAPROXY_IMAGE,
    validate: imageReferenceVerdict,
  });
  return { keepalivedImage, haproxyImage, manifestsDir: old?.manifestsDir ?? DEFAULT_MANIFESTS_DIR };
}

/** Why each static_pods value is what it is, for the file's comments. */
function staticPodsPlan(sp: StaticPodSettings, was: Inventory | undefined): NonNullable<SetupPlan['staticPods']> {
  const pull = "each master's container runtime pulls it, or it is preloaded there (ctr -n k8s.io images import)";
  return {
    keepalivedImage: { value: sp.keepalivedImage, why: `yours: there is no official keepalived image (docs/static-pods.md builds one from your distribution's package)\n${pull}` },
    haproxyImage: {
      value: sp.haproxyImage,
      why: sp.haproxyImage === DEFAULT_HAPROXY_IMAGE ? `the official image (the default); ${pull}` : `yours, instead of the official ${DEFAULT_HAPROXY_IMAGE}; ${pull}`,
    },
    manifestsDir: {
      value: sp.manifestsDir,
      why: `${sp.manifestsDir === DEFAULT_MANIFESTS_DIR ? "the kubelet's staticPodPath as kubeadm sets it (the default)" : `the kubelet's staticPodPath, kept from ${was?.file ?? 'the existing file'}`}; kha setup does not ask:\nchange it if your kubelets read static pods elsewhere. kha kubeadm lets kubeadm init accept the manifests already in it`,
    },
  };
}

async function askAnswers(p: Prompter, was: Inventory | undefined): Promise<Answers> {
  // A file with no VIP offers no endpoint kind to keep: the wizard builds one with a VIP.
  const wasKind = was && topologyOf(was).name;
  const topology = await p.select<EndpointTopologyName>({ message: 'What should kha build?', choices: TOPOLOGIES, default: wasKind && wasKind !== 'proxy-only' ? wasKind : 'dedicated' });
  let lbAddresses: string[] = [];
  if (topology === 'dedicated') {
    lbAddresses = await askAddresses(p, { message: 'Addresses of the load balancers', min: 2, what: 'load balancers', taken: new Map(), defaults: was?.lbs.map((h) => h.address) });
  }
  const masterAddresses = await askAddresses(p, {
    message:
      topology === 'dedicated'
        ? 'Addresses of the masters (where kube-apiserver runs or will run)'
        : `Addresses of the masters (each runs keepalived and haproxy too${topology === 'static-pods' ? ", as static pods of its kubelet" : ''})`,
    min: topology === 'dedicated' ? 1 : 2,
    what: 'masters',
    taken: new Map(lbAddresses.map((a) => [a, 'a load balancer'] as const)),
    defaults: was?.masters.map((h) => h.address),
  });
  if (onTheMasters(topology)) lbAddresses = masterAddresses;
  const sp = topology === 'static-pods' ? await askImages(p, was) : undefined;
  return { topology, lbAddresses, masterAddresses, ...(sp ? { staticPods: sp } : {}), ssh: await askSsh(p, was) };
}

function settings(ssh: SetupPlan['ssh'], env: NodeJS.ProcessEnv): SshSettings {
  const pw = ssh.sudoPassword;
  const value = pw.kind === 'literal' ? pw.value : pw.kind === 'env' ? env[pw.variable] : undefined;
  return {
    user: ssh.user,
    port: ssh.port,
    ...(ssh.identityFile ? { identityFile: ssh.identityFile } : {}),
    knownHosts: ssh.knownHosts,
    sudo: ssh.sudo,
    ...(value !== undefined ? { sudoPassword: new Secret(value, pw.kind === 'env' ? `env:${pw.variable}` : 'kha setup') } : {}),
    connectTimeoutS: 10,
  };
}

/** The subnet's usable addresses from the top down, none of them a host's: where a free VIP is most likely. */
export function vipCandidates(cidr: { address: string; prefix: number }, used: readonly string[]): string[] {
  const size = 2 ** (32 - cidr.prefix);
  const network = networkOf(cidr);
  const out: string[] = [];
  for (let i = size - 2; i >= 1 && out.length < 20; i--) {
    const a = intToIpv4(network + i);
    if (!used.includes(a)) out.push(a);
  }
  return out;
}

function draft(plan: SetupPlan, file: string, env: NodeJS.ProcessEnv, now: Date): { text: string; inventory: Inventory } {
  const text = hostsYamlText(plan, file, now);
  const r = parseInventory(text, file, env);
  if (!r.ok) throw new InternalError(`kha setup made a hosts.yaml its own validator refuses:\n${r.problems.map((x) => `${x.line}:${x.column} ${x.path}: ${x.message}`).join('\n')}`);
  return { text, inventory: r.inventory };
}

interface VipSearch {
  file: string;
  was: Inventory | undefined;
  used: readonly string[];
  subnet: { address: string; prefix: number };
  sessions: ReadonlyMap<string, Session>;
  deps: WizardDeps;
}

/** Free: apply's own `vip` check (held by a keepalived meant for it, or no ARP answer) finds nothing. */
async function vipIsFree(plan: SetupPlan, address: string, v: VipSearch): Promise<PreflightProblem | undefined> {
  plan.vip.value.address = address;
  const { inventory } = draft(plan, v.file, v.deps.env, v.deps.now());
  return (await v.deps.check(inventory, new Map(), v.sessions, ['vip']))[0];
}

/** How many addresses are probed for a proposal (each probe takes about a second). */
const VIP_TRIES = 5;

async function chooseVip(plan: SetupPlan, v: VipSearch): Promise<void> {
  v.deps.say("looking for a free VIP (an ARP probe from a load balancer, as apply's preflight does)");
  let proposal: string | undefined;
  for (const candidate of [...(v.was?.vip ? [v.was.vip.address] : []), ...vipCandidates(v.subnet, v.used)].slice(0, VIP_TRIES)) {
    if (!(await vipIsFree(plan, candidate, v))) {
      proposal = candidate;
      break;
    }
  }
  const cidrText = `${intToIpv4(networkOf(v.subnet))}/${v.subnet.prefix}`;
  for (;;) {
    const vip = await v.deps.prompt.input({
      message: `Virtual IP for the endpoint (in ${cidrText}${proposal ? `; ${proposal} did not answer ARP` : ''})`,
      ...(proposal ? { default: proposal } : {}),
      validate: (x) => {
        if (!IPV4_RE.test(x)) return 'an IPv4 address';
        if (!inSubnet(x, v.subnet)) return `not in ${cidrText}, the load balancers' subnet`;
        if (v.used.includes(x)) return `${x} is a host's own address`;
        return true;
      },
    });
    const taken = vip === proposal ? undefined : await vipIsFree(plan, vip, v);
    plan.vip.value.address = vip;
    if (!taken) {
      plan.vip.why = `in ${cidrText}, the subnet of ${plan.lbs.map((l) => l.name).join(', ')}; no host answered ARP for it from ${plan.lbs[0]!.name} on ${v.deps.now().toISOString().slice(0, 10)}`;
      return;
    }
    v.deps.say(`  ${taken.message}`);
  }
}

/** apply's own `router-id` check listens for other VRRP groups; a clash asks for another id. */
async function chooseRouterId(plan: SetupPlan, file: string, sessions: ReadonlyMap<string, Session>, deps: WizardDeps): Promise<void> {
  deps.say('listening for other VRRP groups on the segment (a few seconds)');
  for (;;) {
    const { inventory } = draft(plan, file, deps.env, deps.now());
    const found = await deps.check(inventory, new Map(), sessions, ['router-id']);
    const clash = found.find((c) => !c.warning);
    if (!clash) {
      plan.routerId.why = found[0]?.message ?? 'no other VRRP group heard on the segment with this id: it must be unique there';
      return;
    }
    deps.say(`  ${clash.message}`);
    plan.routerId.value = Number(
      await deps.prompt.input({
        message: 'virtual_router_id (1-255, unused on this segment)',
        default: String((plan.routerId.value % 255) + 1),
        validate: (x) => (/^\d+$/.test(x) && Number(x) >= 1 && Number(x) <= 255 ? true : 'a whole number from 1 to 255'),
      }),
    );
  }
}

/** Runs the wizard and returns the hosts.yaml to write; the caller closes nothing: sessions are closed here. */
export async function runWizard(file: string, was: Inventory | undefined, deps: WizardDeps): Promise<WizardResult> {
  const p = deps.prompt;
  const a = await askAnswers(p, was);
  const ssh = settings(a.ssh, deps.env);
  const lbName = (i: number) => (onTheMasters(a.topology) ? `m${i + 1}` : `lb${i + 1}`);
  // Discovery reads the files of the topology chosen, with the manifests directory it will use.
  const topology = topologyNamed(a.topology, a.staticPods);
  const masters: PlannedHost[] = a.masterAddresses.map((address, i) => ({ name: `m${i + 1}`, address, notes: [] }));
  const lbHosts = a.lbAddresses.map((address, i) => ({ name: lbName(i), address }));

  deps.say(`\nreaching the ${onTheMasters(a.topology) ? 'masters' : 'load balancers'} over SSH`);
  const targets: SshTarget[] = lbHosts.map((h) => sshTarget({ ...h, ssh }));
  const fixAddress = (t: SshTarget) => p.input({ message: `new address for ${t.name}`, default: t.address, validate: (v) => (IPV4_RE.test(v) ? true : 'an IPv4 address') });
  const reached = await reach(deps, targets, fixAddress);
  const sessions: Map<string, Session> = reached.sessions;
  try {
    if (reached.targets.length < 2) throw new SetupStopped(`only ${reached.targets.length} load balancer${reached.targets.length === 1 ? '' : 's'} reachable: with fewer than two there is nothing to fail over to`);
    deps.say('looking at them');
    const found = new Map<string, LbFinding>();
    for (const t of reached.targets) found.set(t.name, await discoverLb(deps.gather, sessions.get(t.name)!, t.address, masters, topology));
    for (const f of found.values()) for (const n of f.notes) deps.say(`  ${n}`);

    const first = found.get(reached.targets[0]!.name)!;
    const reachable = first.facts.apiserversReachable;
    for (const m of masters) {
      m.notes.push(
        reachable === null
          ? `apiserver on 6443: not checked (${reached.targets[0]!.name} has no bash)`
          : reachable.includes(m.name)
            ? `apiserver on 6443 answers from ${reached.targets[0]!.name}`
            : 'apiserver on 6443 does not answer yet: normal before kubeadm init',
      );
    }
    if (!first.interface) throw new SetupStopped(`${reached.targets[0]!.name} has no interface holding ${reached.targets[0]!.address}`);
    const subnet = { address: reached.targets[0]!.address, prefix: first.interface.prefix };

    const primaryName = await p.select({
      message: 'Which one should hold the VIP normally (the primary)?',
      choices: reached.targets.map((t) => ({ value: t.name, name: `${t.name} ${t.address}` })),
      default: reached.targets[0]!.name,
    });
    const ordered = [...reached.targets].sort((x, y) => (x.name === primaryName ? -1 : y.name === primaryName ? 1 : 0));
    const taken = new Set<number>();
    const lbs: PlannedLb[] = ordered.map((t, i) => {
      const f = found.get(t.name)!;
      const priority = defaultPriority(i, ordered.length, taken);
      taken.add(priority);
      return {
        name: t.name,
        address: t.address,
        notes: f.notes,
        interface: { value: f.interface?.name ?? 'eth0', why: f.interface ? `carries ${t.address}, so it will carry the VIP` : 'not found on the host: set the interface that will carry the VIP' },
        priority: { value: priority, why: i === 0 ? 'the highest: the primary, which holds the VIP while it is healthy' : `a backup: takes the VIP when ${primaryName} cannot hold it` },
      };
    });

    const port = PORTS[a.topology];
    // Every address the hosts hold, but the VIP of an existing file: its holder has it too.
    const used = [...a.lbAddresses, ...a.masterAddresses, ...[...found.values()].flatMap((f) => f.facts.interfaces.flatMap((i) => i.addresses.map((x) => x.split('/')[0]!)))].filter(
      (x) => x !== was?.vip?.address,
    );
    const plan: SetupPlan = {
      topology: a.topology,
      vip: { value: { address: '', prefix: subnet.prefix }, why: '' },
      port: { value: port, why: onTheMasters(a.topology) ? 'not 6443: each master\'s own apiserver holds that port; haproxy forwards 8443 to it' : 'the port clients use on the VIP' },
      ssh: a.ssh,
      routerId: { value: was?.keepalived.routerId ?? DEFAULT_ROUTER_ID, why: '' },
      lbs,
      masters,
      ...(a.staticPods ? { staticPods: staticPodsPlan(a.staticPods, was) } : {}),
    };

    await chooseVip(plan, { file, was, used, subnet, sessions, deps });
    await chooseRouterId(plan, file, sessions, deps);

    const { text, inventory } = draft(plan, file, deps.env, deps.now());
    deps.say('checking it as kha apply will (preflight)');
    const req = probeRequest(inventory);
    const facts = new Map(await Promise.all(inventory.lbs.map(async (lb) => [lb.name, await deps.gather(sessions.get(lb.name)!, req)] as const)));
    const findings = await deps.check(inventory, facts, sessions, CHECKS);
    return {
      text,
      inventory,
      findings,
      firstBuild: masters.every((m) => !m.notes.some((n) => n.includes('answers from'))),
      holdsSecret: a.ssh.sudoPassword.kind === 'literal',
    };
  } finally {
    await Promise.allSettled([...sessions.values()].map((s) => s.close()));
  }
}
