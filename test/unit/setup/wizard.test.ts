import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli.js';
import type { HostFacts, ProbeRequest } from '../../../src/facts/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import type { PreflightProblem } from '../../../src/preflight/checks.js';
import { addressLine } from '../../../src/setup/addresses.js';
import { finishSetup } from '../../../src/setup/finish.js';
import { explain } from '../../../src/explain/explain.js';
import { formatExplanation } from '../../../src/explain/format.js';
import { SetupStopped } from '../../../src/setup/reach.js';
import { runWizard, vipCandidates, type WizardDeps } from '../../../src/setup/wizard.js';
import { topologyOf } from '../../../src/topology/of.js';
import { describeKey } from '../../../src/transport/known-hosts.js';
import { trustHostKey, type PresentedKey } from '../../../src/transport/host-key-scan.js';
import { FakeSession } from '../../../src/transport/fake.js';
import { createOutput } from '../../../src/ui/output.js';
import { fixtureFacts } from '../facts/fixture.js';
import { ScriptedPrompter, type Step } from './inquirer-script.js';
import { packageRoot, schemaFile } from '../../../src/paths.js';

// kha setup's flows, every question answered through @inquirer/testing: the
// hosts are fakes (recorded facts, scripted checks), the prompts are real.

let dir = '';
let knownHosts = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kha-setup-'));
  knownHosts = join(dir, 'known_hosts');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** An ed25519 host key blob as SSH sends it, different for every seed. */
function hostKey(seed: string): PresentedKey {
  const part = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([part(Buffer.from('ssh-ed25519')), part(createHash('sha256').update(seed).digest())]);
  return { ...describeKey(blob), blob };
}

interface Fakes {
  deps: WizardDeps;
  said: string[];
  connected: string[];
}

function fakes(steps: Step[], opts: { unreachable?: string[]; check?: WizardDeps['check']; keys?: Record<string, string> } = {}): Fakes & { prompt: ScriptedPrompter } {
  const prompt = new ScriptedPrompter(steps);
  const said: string[] = [];
  const connected: string[] = [];
  const addressOf = new Map<string, string>();
  const deps: WizardDeps = {
    prompt,
    say: (l) => said.push(l),
    env: {},
    now: () => new Date('2026-11-30T12:00:00Z'),
    hostKey: async (name, address) => {
      if (opts.unreachable?.includes(address)) throw new Error(`no SSH host key from ${address}:22 within 10000 ms: is the address right and sshd running?`);
      return hostKey(opts.keys?.[address] ?? address);
    },
    trust: trustHostKey,
    connect: async (targets) =>
      targets.map((t) => {
        connected.push(`${t.name}@${t.address}`);
        addressOf.set(t.name, t.address);
        return { target: t, session: new FakeSession(t.name) };
      }),
    gather: async (session) => {
      const f: HostFacts = fixtureFacts('debian-12', session.host);
      f.interfaces = [
        { name: 'lo', up: true, addresses: ['127.0.0.1/8'] },
        { name: 'ens3', up: true, addresses: [`${addressOf.get(session.host)}/24`] },
      ];
      f.apiserversReachable = [];
      return f;
    },
    check: opts.check ?? (async () => []),
  };
  return { deps, said, connected, prompt };
}

const BUILD: Step = { ask: /^What should kha build\?/, answer: { enter: true } };
const LBS = (line: string, count: number): Step[] => [
  { ask: /^Addresses of the load balancers/, answer: line },
  { ask: new RegExp(`^more load balancers \\(${count} so far`), answer: '' },
];
const MASTERS: Step[] = [
  { ask: /^Addresses of the masters/, answer: '10.0.0.21' },
  { ask: /^more masters \(1 so far/, answer: '10.0.0.22 10.0.0.23' },
  { ask: /^more masters \(3 so far/, answer: '' },
];
const LOGIN: Step[] = [
  { ask: /^SSH user/, answer: { enter: true } },
  { ask: /^SSH port/, answer: { enter: true } },
  { ask: /^SSH private key/, answer: '/keys/id_ed25519' },
];
const FRESH: Step[] = [BUILD, ...LBS('10.0.0.11, 10.0.0.12', 2), ...MASTERS, ...LOGIN];

function load(text: string): Inventory {
  const r = parseInventory(text, join(dir, 'hosts.yaml'), {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

describe('kha setup, dedicated load balancers from nothing', () => {
  it('asks, trusts each host key on a yes, proposes a free VIP, and writes a file that explains itself', async () => {
    const f = fakes([
      ...FRESH,
      { ask: /^known_hosts file/, answer: knownHosts },
      { ask: /^lb1 \(10\.0\.0\.11:22\) is not in .*known_hosts\. It presents ssh-ed25519 SHA256:/, answer: true },
      { ask: /^lb2 \(10\.0\.0\.12:22\) is not in/, answer: true },
      { ask: /^Which one should hold the VIP normally/, answer: { enter: true } },
      { ask: /^Virtual IP for the endpoint \(in 10\.0\.0\.0\/24; 10\.0\.0\.254 did not answer ARP\)/, answer: { enter: true } },
    ]);
    const file = join(dir, 'hosts.yaml');
    const r = await runWizard(file, undefined, f.deps);
    f.prompt.assertDone();
    expect(readFileSync(knownHosts, 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['10.0.0.11 ssh-ed25519', '10.0.0.12 ssh-ed25519']);
    expect(r.text).toBe(EXPECTED_FRESH(knownHosts));
    const inv = load(r.text);
    expect(inv.lbs.map((l) => [l.name, l.priority, l.interface])).toEqual([['lb1', 150, 'ens3'], ['lb2', 100, 'ens3']]);
    expect(r.firstBuild).toBe(true);
    expect(f.said).toContain('  found on lb1: ens3 10.0.0.11/24, Debian GNU/Linux 12 (bookworm)');
  });
});

const KNOWN: (kh: string) => Step = (kh) => ({ ask: /^known_hosts file/, answer: kh });
const TRUST = (name: string): Step => ({ ask: new RegExp(`^${name} \\(`), answer: true });
const PRIMARY: Step = { ask: /^Which one should hold the VIP normally/, answer: { enter: true } };
const VIP: Step = { ask: /^Virtual IP for the endpoint/, answer: { enter: true } };

/** The whole conversation for a user who is not root, with `sudo` answering the sudo questions. */
const asAdmin = (sudo: Step[]): Step[] => [
  BUILD,
  ...LBS('10.0.0.11 10.0.0.12', 2),
  ...MASTERS,
  { ask: /^SSH user/, answer: 'admin' },
  ...LOGIN.slice(1),
  KNOWN(knownHosts),
  ...sudo,
  TRUST('lb1'),
  TRUST('lb2'),
  PRIMARY,
  VIP,
];

describe('kha setup at the edges', () => {
  it('a host whose key is not trusted can be skipped; the file holds the others', async () => {
    const f = fakes([
      BUILD,
      ...LBS('10.0.0.11 10.0.0.12 10.0.0.13', 3),
      ...MASTERS,
      ...LOGIN,
      KNOWN(knownHosts),
      TRUST('lb1'),
      { ask: /^lb2 \(10\.0\.0\.12:22\) is not in/, answer: false },
      { ask: /^lb2: its host key SHA256:\S+ was not trusted\nWhat now\?/, answer: { choose: 'skip' } },
      TRUST('lb3'),
      PRIMARY,
      VIP,
    ]);
    const r = await runWizard(join(dir, 'hosts.yaml'), undefined, f.deps);
    f.prompt.assertDone();
    expect(load(r.text).lbs.map((l) => `${l.name} ${l.address}`)).toEqual(['lb1 10.0.0.11', 'lb3 10.0.0.13']);
    expect(readFileSync(knownHosts, 'utf8')).not.toContain('10.0.0.12');
  });

  it('a changed host key is never offered for trust: both fingerprints are shown, and stop writes nothing', async () => {
    writeFileSync(knownHosts, `10.0.0.11 ssh-ed25519 ${hostKey('the old key').blob.toString('base64')}\n`);
    const f = fakes([...FRESH, KNOWN(knownHosts), { ask: /does not match .*the host presented ssh-ed25519 SHA256:.*expected ssh-ed25519 SHA256:/s, answer: { choose: 'stop' } }]);
    await expect(runWizard(join(dir, 'hosts.yaml'), undefined, f.deps)).rejects.toThrow(SetupStopped);
    f.prompt.assertDone();
    expect(f.connected).toEqual([]);
  });

  it('an unreachable host: fix the address, and the new one is used', async () => {
    const f = fakes(
      [
        BUILD,
        ...LBS('10.0.0.11 10.0.0.99', 2),
        ...MASTERS,
        ...LOGIN,
        KNOWN(knownHosts),
        TRUST('lb1'),
        { ask: /^lb2: no SSH host key from 10\.0\.0\.99:22/, answer: { choose: 'fix' } },
        { ask: /^new address for lb2/, answer: '10.0.0.12' },
        TRUST('lb2'),
        PRIMARY,
        VIP,
      ],
      { unreachable: ['10.0.0.99'] },
    );
    const r = await runWizard(join(dir, 'hosts.yaml'), undefined, f.deps);
    f.prompt.assertDone();
    expect(load(r.text).lbs.map((l) => l.address)).toEqual(['10.0.0.11', '10.0.0.12']);
    expect(f.connected).toEqual(['lb1@10.0.0.11', 'lb2@10.0.0.12']);
  });

  it('Ctrl-C at any question ends with ExitPromptError (exit 130) and nothing reached', async () => {
    const f = fakes([{ ask: /^What should kha build\?/, answer: { enter: true } }, { ask: /^Addresses of the load balancers/, answer: 'ctrl-c' }]);
    await expect(runWizard(join(dir, 'hosts.yaml'), undefined, f.deps)).rejects.toMatchObject({ name: 'ExitPromptError' });
    expect(f.connected).toEqual([]);
  });

  it('a VIP that answers ARP is not proposed; the next free one is', async () => {
    const taken: PreflightProblem = { host: 'lb1', check: 'vip', message: 'the VIP 10.0.0.254 already answers on the network' };
    const f = fakes([...FRESH, KNOWN(knownHosts), TRUST('lb1'), TRUST('lb2'), PRIMARY, { ask: /^Virtual IP for the endpoint \(in 10\.0\.0\.0\/24; 10\.0\.0\.253 did not answer ARP\)/, answer: { enter: true } }], {
      check: async (inv, _facts, _sessions, names) => (names.length === 1 && names[0] === 'vip' && inv.vip?.address === '10.0.0.254' ? [taken] : []),
    });
    const r = await runWizard(join(dir, 'hosts.yaml'), undefined, f.deps);
    expect(load(r.text).vip?.address).toBe('10.0.0.253');
  });

  it('a router id another VRRP group uses is said, and another asked for', async () => {
    const f = fakes([...FRESH, KNOWN(knownHosts), TRUST('lb1'), TRUST('lb2'), PRIMARY, VIP, { ask: /^virtual_router_id/, answer: '60' }], {
      check: async (inv, _f, _s, names) =>
        names[0] === 'router-id' && inv.keepalived.routerId === 51 ? [{ host: 'lb1', check: 'router-id', message: '10.0.0.5 already sends VRRP adverts for virtual_router_id 51' }] : [],
    });
    const r = await runWizard(join(dir, 'hosts.yaml'), undefined, f.deps);
    expect(load(r.text).keepalived.routerId).toBe(60);
    expect(f.said).toContain('  10.0.0.5 already sends VRRP adverts for virtual_router_id 51');
  });

  it('a user who is not root: sudo with the password from the environment, never in the file', async () => {
    const f = fakes(asAdmin([
      { ask: /^admin is not root: run kha's commands through sudo\?/, answer: { enter: true } },
      { ask: /^sudo password/, answer: { choose: 'env' } },
      { ask: /^environment variable holding the sudo password/, answer: { enter: true } },
    ]));
    f.deps.env = { KHA_SUDO_PASSWORD: 'S3cr3t-sudo' };
    const r = await runWizard(join(dir, 'hosts.yaml'), undefined, f.deps);
    f.prompt.assertDone();
    expect(r.text).toContain('  user: admin\n');
    expect(r.text).toContain('  sudo: true\n  sudo_password: env:KHA_SUDO_PASSWORD\n');
    expect(r.text).not.toContain('S3cr3t-sudo');
  });

  it('a typed sudo password is written only because the person chose it, and makes the file 0600', async () => {
    const f = fakes([
      ...asAdmin([
        { ask: /^admin is not root/, answer: true },
        { ask: /^sudo password/, answer: { choose: 'literal' } },
        { ask: /^sudo password$/, answer: 'Typ3d-pw' },
      ]),
      { ask: /^Write .*hosts\.yaml\?/, answer: true },
    ]);
    const file = join(dir, 'hosts.yaml');
    const r = await runWizard(file, undefined, f.deps);
    let printed = '';
    const explained = formatExplanation(explain(r.inventory));
    expect(await finishSetup(r, file, undefined, f.prompt, createOutput(false, { stdout: (t) => (printed += t), stderr: (t) => (printed += t) }), explained)).toBe(true);
    expect(printed).toContain('lb1 is the primary: priority 150, the highest');
    f.prompt.assertDone();
    expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
    expect(readFileSync(file, 'utf8')).toContain("sudo_password: 'Typ3d-pw'");
    expect(printed).toContain(`wrote ${file}`);
    expect(printed).toContain(`kha kubeadm ${file} --out kubeadm-config.yaml`);
  });

  it('an existing file: its values are the defaults, and the diff is shown before writing', async () => {
    const file = join(dir, 'hosts.yaml');
    const first = fakes([...FRESH, KNOWN(knownHosts), TRUST('lb1'), TRUST('lb2'), PRIMARY, VIP]);
    const before = await runWizard(file, undefined, first.deps);
    writeFileSync(file, before.text);
    const again = fakes([
      BUILD,
      { ask: /^Addresses of the load balancers/, answer: { enter: true } },
      { ask: /^Addresses of the masters/, answer: { enter: true } },
      { ask: /^SSH user/, answer: { enter: true } },
      { ask: /^SSH port/, answer: { enter: true } },
      { ask: /^SSH private key/, answer: { enter: true } },
      { ask: /^known_hosts file/, answer: { enter: true } },
      { ask: /^Which one should hold the VIP normally/, answer: { choose: 'lb2' } },
      VIP,
      { ask: /^Write .*hosts\.yaml\?/, answer: true },
    ]);
    const r = await runWizard(file, load(before.text), again.deps);
    let printed = '';
    await finishSetup(r, file, before.text, again.prompt, createOutput(false, { stdout: (t) => (printed += t), stderr: (t) => (printed += t) }), []);
    again.prompt.assertDone();
    expect(load(r.text).vip?.address).toBe(load(before.text).vip?.address);
    expect(load(r.text).lbs.find((l) => l.primary)?.name).toBe('lb2');
    expect(printed).toMatch(/^-  - name: lb1$/m);
    expect(printed).toMatch(/^\+  - name: lb2$/m);
  });
});

describe('kha setup with keepalived and haproxy on the masters (source 004)', () => {
  it('asks for the masters only, names them m1.., puts them under lb and masters, and uses port 8443', async () => {
    const f = fakes([
      { ask: /^What should kha build\?/, answer: { choose: 'on-masters' } },
      { ask: /^Addresses of the masters \(each runs keepalived and haproxy too\)/, answer: '10.0.0.31 10.0.0.32 10.0.0.33' },
      { ask: /^more masters/, answer: '' },
      ...LOGIN,
      KNOWN(knownHosts),
      TRUST('m1'),
      TRUST('m2'),
      TRUST('m3'),
      PRIMARY,
      VIP,
    ]);
    const r = await runWizard(join(dir, 'hosts.yaml'), undefined, f.deps);
    f.prompt.assertDone();
    const inv = load(r.text);
    expect(inv.port).toBe(8443);
    expect(inv.lbs.map((l) => l.name)).toEqual(['m1', 'm2', 'm3']);
    expect(inv.masters.map((m) => m.address)).toEqual(['10.0.0.31', '10.0.0.32', '10.0.0.33']);
  });
});

describe('kha setup with keepalived and haproxy as static pods (source 002)', () => {
  const STATIC: Step = { ask: /^What should kha build\?/, answer: { choose: 'static-pods' } };
  const ON_MASTERS: Step[] = [
    { ask: /^Addresses of the masters \(each runs keepalived and haproxy too, as static pods of its kubelet\)/, answer: '10.0.0.31 10.0.0.32 10.0.0.33' },
    { ask: /^more masters/, answer: '' },
  ];
  const KEEPALIVED_IMAGE = (answer: Step['answer']): Step => ({
    ask: /^keepalived image for the static pods, with its tag \(there is no official keepalived image: build one from your distribution's package \(docs\/static-pods\.md/,
    answer,
  });
  const HAPROXY_IMAGE = (answer: Step['answer']): Step => ({ ask: /^haproxy image for the static pods \(the official one by default/, answer });
  /** Called in each test: knownHosts is that test's own file. */
  const REACH = (): Step[] => [...LOGIN, KNOWN(knownHosts), TRUST('m1'), TRUST('m2'), TRUST('m3'), PRIMARY, VIP];

  /** The fakes, with every probe request and every inventory the checks were given. */
  function recorded(steps: Step[]) {
    const f = fakes(steps);
    const requests: ProbeRequest[] = [];
    const checked: string[] = [];
    const gather = f.deps.gather;
    f.deps.gather = async (session, req) => {
      requests.push(req);
      return gather(session, req);
    };
    f.deps.check = async (inv, _facts, _sessions, names) => {
      checked.push(`${topologyOf(inv).name}: ${names.join(' ')}`);
      return [];
    };
    return { ...f, requests, checked };
  }

  it('asks for the masters and the images, and writes static_pods that parse back to the static-pods topology', async () => {
    const f = recorded([STATIC, ...ON_MASTERS, KEEPALIVED_IMAGE('registry.example.com/kha/keepalived:2.2.7'), HAPROXY_IMAGE({ enter: true }), ...REACH(), { ask: /^Write .*hosts\.yaml\?/, answer: true }]);
    const file = join(dir, 'hosts.yaml');
    const r = await runWizard(file, undefined, f.deps);
    expect(r.text).toContain(EXPECTED_STATIC_PODS);
    const inv = load(r.text);
    expect(topologyOf(inv).name).toBe('static-pods');
    expect(inv.staticPods).toEqual({ keepalivedImage: 'registry.example.com/kha/keepalived:2.2.7', haproxyImage: 'docker.io/library/haproxy:2.8', manifestsDir: '/etc/kubernetes/manifests' });
    expect(inv.port).toBe(8443);
    expect(r.text).toContain("  # not 6443: each master's own apiserver holds that port; haproxy forwards 8443 to it\n  port: 8443\n");
    expect(inv.lbs.map((l) => `${l.name} ${l.address}`)).toEqual(['m1 10.0.0.31', 'm2 10.0.0.32', 'm3 10.0.0.33']);
    expect(inv.masters.map((m) => `${m.name} ${m.address} ${m.apiserverPort}`)).toEqual(['m1 10.0.0.31 6443', 'm2 10.0.0.32 6443', 'm3 10.0.0.33 6443']);
    expect(f.said).toContain('\nreaching the masters over SSH');

    // Discovery reads the pods' files and says that the host's packages are not what runs.
    expect(f.requests[0]!.files).toContain('/etc/kubernetes/manifests/keepalived.yaml');
    expect(f.requests[0]!.files.filter((p) => p.startsWith('/var/lib/kha/') && p.includes('marker'))).toEqual([]);
    expect(r.text).toContain(
      '    # haproxy 2.6.12-1+deb12u4 is installed on the host (unknown), which the static pod does not use; apply replaces /etc/haproxy/haproxy.cfg and keeps it as /etc/haproxy/haproxy.cfg.kha-bak: keep it stopped and disabled\n',
    );
    expect(r.text).not.toMatch(/installed \(\w+\), not configured|runs a configuration kha did not write/);
    // Every check ran on the static-pods topology: the VIP, the router id and preflight on the final file.
    expect(f.checked).toEqual(['static-pods: vip', 'static-pods: router-id', 'static-pods: privileges os interface firewall vip router-id vrrp-path']);
    // The final preflight reads what static-pods apply reads.
    expect(f.requests.at(-1)).toEqual(topologyOf(inv).probe(inv));

    let printed = '';
    await finishSetup(r, file, undefined, f.prompt, createOutput(false, { stdout: (t) => (printed += t), stderr: (t) => (printed += t) }), []);
    f.prompt.assertDone();
    expect(printed).toContain('write the files and the Pod manifests: the kubelet starts keepalived and haproxy');
    expect(printed).toContain(`kha kubeadm ${file} --out kubeadm-config.yaml`);
  });

  it.each([
    ['', "required: there is no official keepalived image: build one from your distribution's package (docs/static-pods.md shows how)"],
    ['registry.example.com/kha/keepalived', "'registry.example.com/kha/keepalived' has no tag: it would mean :latest"],
    ['Registry.example.com/KA 2.2.7', "'Registry.example.com/KA 2.2.7' is not an image reference; write [registry/]name:tag"],
  ])('a keepalived image %j is refused with what hosts.yaml would say, and asked again', async (refused, message) => {
    const f = fakes([STATIC, ...ON_MASTERS, KEEPALIVED_IMAGE({ refused, then: 'registry.example.com/kha/keepalived:2.2.7' }), HAPROXY_IMAGE({ enter: true }), ...REACH()]);
    const r = await runWizard(join(dir, 'hosts.yaml'), undefined, f.deps);
    f.prompt.assertDone();
    const screen = f.prompt.screens.find((x) => x.includes('keepalived image for the static pods') && !x.startsWith('✔'));
    expect(screen?.replace(/\s*\n\s*/g, ' ')).toContain(message);
    expect(load(r.text).staticPods?.keepalivedImage).toBe('registry.example.com/kha/keepalived:2.2.7');
  });

  it('a haproxy image without a tag is refused too, and the one given is written with why', async () => {
    const f = fakes([
      STATIC,
      ...ON_MASTERS,
      KEEPALIVED_IMAGE('registry.example.com/kha/keepalived:2.2.7'),
      HAPROXY_IMAGE({ refused: 'haproxy', then: 'registry.example.com/haproxy:2.8' }),
      ...REACH(),
    ]);
    const r = await runWizard(join(dir, 'hosts.yaml'), undefined, f.deps);
    f.prompt.assertDone();
    expect(f.prompt.screens.some((x) => x.replace(/\s*\n\s*/g, ' ').includes("'haproxy' has no tag"))).toBe(true);
    expect(r.text).toContain('  # yours, instead of the official docker.io/library/haproxy:2.8; ');
    expect(load(r.text).staticPods?.haproxyImage).toBe('registry.example.com/haproxy:2.8');
  });

  it('an existing static-pods file: static pods is the default answer, and its images and manifests directory are the defaults', async () => {
    const file = join(dir, 'hosts.yaml');
    const first = fakes([STATIC, ...ON_MASTERS, KEEPALIVED_IMAGE('registry.example.com/kha/keepalived:2.2.7'), HAPROXY_IMAGE({ enter: true }), ...REACH()]);
    const made = (await runWizard(file, undefined, first.deps)).text
      .replace('haproxy_image: docker.io/library/haproxy:2.8', 'haproxy_image: registry.example.com/mirror/haproxy:2.8.5')
      .replace('manifests_dir: /etc/kubernetes/manifests', 'manifests_dir: /var/lib/kubelet/static');
    writeFileSync(file, made);
    const again = recorded([
      { ask: /^What should kha build\?/, answer: { enter: true } },
      { ask: /^Addresses of the masters \(each runs keepalived and haproxy too, as static pods/, answer: { enter: true } },
      KEEPALIVED_IMAGE({ enter: true }),
      HAPROXY_IMAGE({ enter: true }),
      { ask: /^SSH user/, answer: { enter: true } },
      { ask: /^SSH port/, answer: { enter: true } },
      { ask: /^SSH private key/, answer: { enter: true } },
      { ask: /^known_hosts file/, answer: { enter: true } },
      PRIMARY,
      VIP,
    ]);
    const r = await runWizard(file, load(made), again.deps);
    again.prompt.assertDone();
    const inv = load(r.text);
    expect(topologyOf(inv).name).toBe('static-pods');
    expect(inv.staticPods).toEqual({ keepalivedImage: 'registry.example.com/kha/keepalived:2.2.7', haproxyImage: 'registry.example.com/mirror/haproxy:2.8.5', manifestsDir: '/var/lib/kubelet/static' });
    expect(r.text).toContain(`  # the kubelet's staticPodPath, kept from ${file}; kha setup does not ask:\n`);
    // Discovery looks where this file's manifests go.
    expect(again.requests[0]!.files).toContain('/var/lib/kubelet/static/keepalived.yaml');
    expect(again.requests[0]!.files).not.toContain('/etc/kubernetes/manifests/keepalived.yaml');
  });
});

const EXPECTED_STATIC_PODS = `static_pods:
  # yours: there is no official keepalived image (docs/static-pods.md builds one from your distribution's package)
  # each master's container runtime pulls it, or it is preloaded there (ctr -n k8s.io images import)
  keepalived_image: registry.example.com/kha/keepalived:2.2.7
  # the official image (the default); each master's container runtime pulls it, or it is preloaded there (ctr -n k8s.io images import)
  haproxy_image: docker.io/library/haproxy:2.8
  # the kubelet's staticPodPath as kubeadm sets it (the default); kha setup does not ask:
  # change it if your kubelets read static pods elsewhere. kha kubeadm lets kubeadm init accept the manifests already in it
  manifests_dir: /etc/kubernetes/manifests
ssh:
`;

const EXPECTED_FRESH = (kh: string) => `# yaml-language-server: $schema=${schemaFile}
#
# Written by kha setup on 2026-11-30 from what it found on the hosts.
# Check it: kha validate <this file>; see what apply would do: kha apply <this file> --dry-run
cluster:
  # in 10.0.0.0/24, the subnet of lb1, lb2; no host answered ARP for it from lb1 on 2026-11-30
  vip: 10.0.0.254/24
  # the port clients use on the VIP
  port: 6443
ssh:
  user: root
  port: 22
  identity_file: /keys/id_ed25519
  known_hosts: ${kh}
keepalived:
  # no other VRRP group heard on the segment with this id: it must be unique there
  virtual_router_id: 51
lb:
  - name: lb1
    address: 10.0.0.11
    # found on lb1: ens3 10.0.0.11/24, Debian GNU/Linux 12 (bookworm)
    # haproxy 2.6.12-1+deb12u4 (unknown) runs a configuration kha did not write: apply replaces /etc/haproxy/haproxy.cfg and keeps it as /etc/haproxy/haproxy.cfg.kha-bak
    # keepalived 1:2.2.7-1+b2 installed (unknown), not configured
    # carries 10.0.0.11, so it will carry the VIP
    interface: ens3
    # the highest: the primary, which holds the VIP while it is healthy
    priority: 150
  - name: lb2
    address: 10.0.0.12
    # found on lb2: ens3 10.0.0.12/24, Debian GNU/Linux 12 (bookworm)
    # haproxy 2.6.12-1+deb12u4 (unknown) runs a configuration kha did not write: apply replaces /etc/haproxy/haproxy.cfg and keeps it as /etc/haproxy/haproxy.cfg.kha-bak
    # keepalived 1:2.2.7-1+b2 installed (unknown), not configured
    # carries 10.0.0.12, so it will carry the VIP
    interface: ens3
    # a backup: takes the VIP when lb1 cannot hold it
    priority: 100
masters:
  - name: m1
    address: 10.0.0.21
    # apiserver on 6443 does not answer yet: normal before kubeadm init
  - name: m2
    address: 10.0.0.22
    # apiserver on 6443 does not answer yet: normal before kubeadm init
  - name: m3
    address: 10.0.0.23
    # apiserver on 6443 does not answer yet: normal before kubeadm init
`;

describe('kha setup off a terminal', () => {
  it('exits 2, says to write hosts.yaml or use a terminal, and writes nothing', async () => {
    const file = join(dir, 'hosts.yaml');
    let stderr = '';
    const code = await main(['node', 'kha', 'setup', file], { stdout: () => undefined, stderr: (t) => (stderr += t) }, {});
    expect(code).toBe(2);
    expect(stderr).toContain('kha setup asks questions and needs a terminal: run it in one, or write hosts.yaml yourself');
    expect(existsSync(file)).toBe(false);
  });
});

describe('what the wizard proposes and accepts', () => {
  it('VIP candidates come from the top of the subnet, never a host address, network or broadcast', () => {
    expect(vipCandidates({ address: '10.0.0.11', prefix: 24 }, ['10.0.0.254']).slice(0, 3)).toEqual(['10.0.0.253', '10.0.0.252', '10.0.0.251']);
    expect(vipCandidates({ address: '192.168.5.9', prefix: 29 }, ['192.168.5.9'])).toEqual(['192.168.5.14', '192.168.5.13', '192.168.5.12', '192.168.5.11', '192.168.5.10']);
  });

  it.each([
    ['10.0.0.1 10.0.0.2', true],
    ['10.0.0.1,10.0.0.2;10.0.0.3', true],
    ['10.0.0.300', '"10.0.0.300": not an IPv4 address (write them like 10.0.0.11 10.0.0.12)'],
    ['10.0.0.1 10.0.0.1', '10.0.0.1 given twice'],
    ['10.0.0.5', '10.0.0.5 is already a load balancer'],
  ])('a line %j: %s', (line, verdict) => {
    expect(addressLine(new Map([['10.0.0.5', 'a load balancer']]))(line)).toBe(verdict);
  });
});

describe('the schema line', () => {
  it.each([
    ['inside kha\'s own tree: relative, as in the examples', () => join(packageRoot, 'examples', 'made.yaml'), () => '../schema/hosts.schema.json'],
    ['anywhere else: where kha is installed', () => join(dir, 'hosts.yaml'), () => schemaFile],
  ])('%s', async (_what, file, schema) => {
    const f = fakes([...FRESH, KNOWN(knownHosts), TRUST('lb1'), TRUST('lb2'), PRIMARY, VIP]);
    const r = await runWizard(file(), undefined, f.deps);
    expect(r.text.split('\n')[0]).toBe(`# yaml-language-server: $schema=${schema()}`);
  });
});
