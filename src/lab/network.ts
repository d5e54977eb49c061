// The lab's network: a bridge in a namespace of its own, the controller's
// namespace on it, and one namespace per machine with eth0 as its veth. The
// host's own network namespace is never touched: each veth pair is created
// with both ends already inside lab namespaces.
import { existsSync } from 'node:fs';
import { run } from './run.js';
import {
  BRIDGE,
  BRIDGE_NS,
  bridgePort,
  CONTROLLER_ADDRESS,
  CONTROLLER_NS,
  CONTROLLER_PORT,
  machineNetns,
  PREFIX,
  PREFIX_LEN,
  type MachineSpec,
} from './state.js';

const STEP = 'lab network';

function ip(args: string[]) {
  return run('ip', args, { step: STEP });
}

export function netnsExists(ns: string): boolean {
  return existsSync(`/run/netns/${ns}`);
}

export async function labNamespaces(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list'], { allowFail: true });
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n === PREFIX || n.startsWith(`${PREFIX}-`));
}

async function addNetns(ns: string): Promise<void> {
  if (!netnsExists(ns)) await ip(['netns', 'add', ns]);
  await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  // Nothing in the lab speaks IPv6; without it the machines send no router solicitations or DAD noise.
  await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], {
    allowFail: true,
  });
}

async function linkExists(ns: string, name: string): Promise<boolean> {
  return (await run('ip', ['-n', ns, 'link', 'show', name], { allowFail: true })).code === 0;
}

/** The bridge namespace and the controller on it (10.77.0.2). */
export async function createBridge(): Promise<void> {
  await addNetns(BRIDGE_NS);
  if (!(await linkExists(BRIDGE_NS, BRIDGE))) {
    await ip(['-n', BRIDGE_NS, 'link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  }
  await ip(['-n', BRIDGE_NS, 'link', 'set', BRIDGE, 'up']);
  await attach(CONTROLLER_NS, CONTROLLER_PORT, `${CONTROLLER_ADDRESS}/${PREFIX_LEN}`);
}

async function attach(ns: string, port: string, cidr: string): Promise<void> {
  await addNetns(ns);
  if (!(await linkExists(BRIDGE_NS, port))) {
    if (await linkExists(ns, 'eth0')) await ip(['-n', ns, 'link', 'del', 'eth0']);
    await ip(['-n', BRIDGE_NS, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  }
  await ip(['-n', BRIDGE_NS, 'link', 'set', port, 'master', BRIDGE, 'up']);
  await ip(['-n', ns, 'addr', 'replace', cidr, 'dev', 'eth0']);
  await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
}

/** The machine's namespace with eth0 already addressed, so sshd is reachable the moment it listens. */
export async function createMachineNet(m: MachineSpec): Promise<void> {
  await attach(machineNetns(m.name), bridgePort(m.name), `${m.address}/${PREFIX_LEN}`);
}

export async function setLink(m: MachineSpec, up: boolean): Promise<void> {
  await ip(['-n', machineNetns(m.name), 'link', 'set', 'eth0', up ? 'up' : 'down']);
}

/** The bridge-side port leaves or rejoins the bridge; the machine still sees its own link up. */
export async function setIsolated(m: MachineSpec, isolated: boolean): Promise<void> {
  await ip(['-n', BRIDGE_NS, 'link', 'set', bridgePort(m.name), ...(isolated ? ['nomaster'] : ['master', BRIDGE])]);
}

export interface LinkState {
  /** eth0 as the machine sees it. */
  eth0: 'up' | 'down' | 'absent';
  /** Whether its bridge port is on the bridge. */
  bridged: boolean;
  addresses: string[];
}

export async function linkState(m: MachineSpec): Promise<LinkState> {
  const ns = machineNetns(m.name);
  if (!netnsExists(ns)) return { eth0: 'absent', bridged: false, addresses: [] };
  const link = await run('ip', ['-n', ns, '-o', 'link', 'show', 'eth0'], { allowFail: true });
  const eth0 = link.code !== 0 ? 'absent' : /[<,]UP[,>]/.test(link.stdout) ? 'up' : 'down';
  const addr = await run('ip', ['-n', ns, '-o', '-4', 'addr', 'show', 'dev', 'eth0'], { allowFail: true });
  const addresses = [...addr.stdout.matchAll(/inet (\S+)/g)].map((x) => x[1] ?? '').filter(Boolean);
  const port = await run('ip', ['-n', BRIDGE_NS, '-o', 'link', 'show', bridgePort(m.name)], { allowFail: true });
  return { eth0, bridged: port.code === 0 && port.stdout.includes(`master ${BRIDGE}`), addresses };
}

/** Deleting a namespace destroys its veth ends and the bridge with it. */
export async function deleteNamespace(ns: string): Promise<void> {
  if (!netnsExists(ns)) return;
  await run('ip', ['netns', 'del', ns], { allowFail: true, step: STEP });
}
