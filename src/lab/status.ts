// What `kha lab status` reports: each machine's state, link and memory, and
// who holds the VIP (more than one holder is the split brain drills look for).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { initPid, machineExec, memoryKiB, nspawnPid } from './machine.js';
import { linkState } from './network.js';
import { labDirs, labFiles, runsPods, type LabState } from './state.js';

export interface MachineStatus {
  name: string;
  role: string;
  address: string;
  state: 'running' | 'stopped';
  link: 'up' | 'down' | 'isolated' | 'absent';
  memoryMiB: number | null;
  holdsVip: boolean;
  /** unit → `systemctl is-active` answer, for the units faults act on. */
  services: Record<string, string>;
  /** Static-pods masters only: pod → podman's state of it. */
  pods?: Record<string, string>;
}

const UNITS: Readonly<Record<string, readonly string[]>> = {
  lb: ['keepalived', 'haproxy'],
  master: ['kha-apiserver'],
  worker: [],
};

function unitsOf(state: LabState, role: string): readonly string[] {
  const units = UNITS[role] ?? [];
  // Static pods: no keepalived or haproxy unit; the kubelet stand-in runs them (see `pods`).
  if (role === 'master' && state.staticPods) return [...units, 'kubelet'];
  if (role === 'worker' && state.proxyPods) return [...units, 'kubelet'];
  return role === 'master' && state.endpointOnMasters ? [...units, ...(UNITS.lb ?? [])] : units;
}

/** The pods podman runs on a static-pods master: name → state (Running, Exited...). */
async function podStates(env: NodeJS.ProcessEnv, name: string): Promise<Record<string, string>> {
  const r = await machineExec(labDirs(env), name, ['podman', 'pod', 'ps', '--format', '{{.Name}} {{.Status}}'], true).catch(() => undefined);
  if (!r || r.code !== 0) return {};
  return Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(/\s+/) as [string, string]),
  );
}

async function serviceStates(env: NodeJS.ProcessEnv, name: string, units: readonly string[]): Promise<Record<string, string>> {
  if (units.length === 0) return {};
  const r = await machineExec(labDirs(env), name, ['systemctl', 'is-active', ...units], true).catch(() => undefined);
  const lines = r?.stdout.trim().split('\n') ?? [];
  return Object.fromEntries(units.map((u, i) => [u, lines[i] ?? 'unknown']));
}

export interface LabStatus {
  /** null: the lab's hosts.yaml has no VIP (`lab up --lbs 0`), each host's local proxy is its endpoint. */
  vip: string | null;
  holders: string[];
  machines: MachineStatus[];
}

/** The VIP from the lab's hosts.yaml (the user may have edited it; null when it has none), else the one up chose. */
export async function defaultVip(env: NodeJS.ProcessEnv, state: LabState): Promise<string | null> {
  const file = labFiles(labDirs(env)).hostsYaml;
  if (existsSync(file)) {
    const m = /^\s*vip:\s*([0-9.]+)/m.exec(await readFile(file, 'utf8'));
    return m?.[1] ?? null;
  }
  return state.vip;
}

export async function labStatus(env: NodeJS.ProcessEnv, state: LabState, vip: string | null): Promise<LabStatus> {
  const dirs = labDirs(env);
  const bare = vip === null ? null : (vip.split('/')[0] ?? vip);
  const machines = await Promise.all(
    state.machines.map(async (m): Promise<MachineStatus> => {
      const pid = await nspawnPid(dirs, m.name);
      const init = pid ? await initPid(pid) : undefined;
      const link = await linkState(m);
      return {
        name: m.name,
        role: m.role,
        address: m.address,
        state: init ? 'running' : 'stopped',
        link: link.eth0 === 'up' && !link.bridged ? 'isolated' : link.eth0,
        memoryMiB: init ? Math.round(((await memoryKiB(m.name, init)) / 1024) * 10) / 10 : null,
        holdsVip: bare !== null && link.addresses.some((a) => a.split('/')[0] === bare),
        services: init ? await serviceStates(env, m.name, unitsOf(state, m.role)) : {},
        ...(runsPods(state, m) ? { pods: init ? await podStates(env, m.name) : {} } : {}),
      };
    }),
  );
  return { vip: bare, holders: machines.filter((m) => m.holdsVip).map((m) => m.name), machines };
}
