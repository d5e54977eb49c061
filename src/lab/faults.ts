// Faults injected from outside a machine (no SSH, nothing the machine could
// refuse): signals from the host, links switched from the namespaces around
// it, services driven through nsenter. Each reports the moment it was
// injected, taken right before the syscall or command that does it.
import { HostError, InputError } from '../errors.js';
import { boot, crash, initPid, machineExec, machineProcesses, nspawnPid, podmanBoot, poweroff, waitForSsh } from './machine.js';
import { setIsolated, setLink } from './network.js';
import { isoNow } from './run.js';
import { labDirs, readState, type LabState, type MachineSpec } from './state.js';

export const FAULT_KINDS = [
  'keepalived-stop',
  'keepalived-kill',
  'haproxy-kill',
  'apiserver-stop',
  'apiserver-start',
  'link-down',
  'link-up',
  'isolate',
  'rejoin',
  'crash',
  'poweroff',
  'poweron',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export function isFaultKind(s: string): s is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(s);
}

export interface FaultReport {
  kind: FaultKind;
  host: string;
  /** ISO time with milliseconds, taken just before the fault was applied. */
  injectedAt: string;
  detail: string;
}

export async function requireLab(env: NodeJS.ProcessEnv): Promise<LabState> {
  const state = await readState(labDirs(env));
  if (!state) throw new InputError(`no lab is up under ${labDirs(env).lab}: run kha lab up first`);
  return state;
}

function findMachine(state: LabState, host: string): MachineSpec {
  const m = state.machines.find((x) => x.name === host || x.address === host);
  if (!m) throw new InputError(`no lab machine '${host}'; the lab has ${state.machines.map((x) => x.name).join(', ')}`);
  return m;
}

async function killAll(env: NodeJS.ProcessEnv, m: MachineSpec, comm: string): Promise<{ at: string; detail: string }> {
  const dirs = labDirs(env);
  const pid = await nspawnPid(dirs, m.name);
  const init = pid ? await initPid(pid) : undefined;
  if (!init) throw new HostError(m.name, 'fault', `${m.name} is not running`);
  const victims = (await machineProcesses(m.name, init)).filter((p) => p.comm === comm);
  if (victims.length === 0) throw new HostError(m.name, 'fault', `no ${comm} process runs on ${m.name}`);
  const at = isoNow();
  for (const v of victims) {
    try {
      process.kill(v.pid, 'SIGKILL');
    } catch {
      // already gone: the effect is the same
    }
  }
  return { at, detail: `SIGKILL to ${comm} pids ${victims.map((v) => v.pid).join(' ')} (host pids)` };
}

async function systemctl(env: NodeJS.ProcessEnv, m: MachineSpec, verb: 'stop' | 'start', unit: string) {
  const at = isoNow();
  const r = await machineExec(labDirs(env), m.name, ['systemctl', verb, unit], true);
  if (r.code !== 0) throw new HostError(m.name, 'fault', `systemctl ${verb} ${unit} failed: ${r.stderr.trim()}`);
  return { at, detail: `systemctl ${verb} ${unit}` };
}

export async function injectFault(env: NodeJS.ProcessEnv, kind: FaultKind, host: string): Promise<FaultReport> {
  const state = await requireLab(env);
  const m = findMachine(state, host);
  const dirs = labDirs(env);
  const done = (r: { at: string; detail: string }): FaultReport => ({ kind, host: m.name, injectedAt: r.at, detail: r.detail });
  switch (kind) {
    case 'keepalived-stop':
      return done(await systemctl(env, m, 'stop', 'keepalived'));
    case 'keepalived-kill':
      return done(await killAll(env, m, 'keepalived'));
    case 'haproxy-kill':
      return done(await killAll(env, m, 'haproxy'));
    case 'apiserver-stop':
      return done(await systemctl(env, m, 'stop', 'kha-apiserver'));
    case 'apiserver-start':
      return done(await systemctl(env, m, 'start', 'kha-apiserver'));
    case 'link-down':
    case 'link-up': {
      const at = isoNow();
      await setLink(m, kind === 'link-up');
      return done({ at, detail: `eth0 of ${m.name} set ${kind === 'link-up' ? 'up' : 'down'}` });
    }
    case 'isolate':
    case 'rejoin': {
      const at = isoNow();
      await setIsolated(m, kind === 'isolate');
      return done({ at, detail: kind === 'isolate' ? `bridge port of ${m.name} left the bridge; its eth0 stays up` : `bridge port of ${m.name} back on the bridge` });
    }
    case 'crash': {
      const r = await crash(dirs, m.name);
      if (!r) throw new HostError(m.name, 'fault', `${m.name} is not running`);
      return done({ at: r.at, detail: `SIGKILL to the machine's init (host pid ${r.pid})` });
    }
    case 'poweroff': {
      if (!(await nspawnPid(dirs, m.name))) throw new HostError(m.name, 'fault', `${m.name} is not running`);
      const at = isoNow();
      await poweroff(dirs, m.name);
      return done({ at, detail: 'clean shutdown (SIGTERM to systemd-nspawn, which powers the machine off)' });
    }
    case 'poweron': {
      if (await nspawnPid(dirs, m.name)) throw new HostError(m.name, 'fault', `${m.name} is already running`);
      const at = isoNow();
      await boot(dirs, m, state.aptRepo, podmanBoot(state, m));
      await waitForSsh(dirs, m, 120_000);
      return done({ at, detail: `booted; SSH answered after ${((Date.now() - Date.parse(at)) / 1000).toFixed(1)} s` });
    }
  }
}
