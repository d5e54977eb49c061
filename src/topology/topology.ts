import type { Drill, DrillName } from '../drill/drills.js';
import type { HostFacts, ProbeRequest } from '../facts/types.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import type { EndpointService } from '../plan/changes.js';
import type { Check } from '../preflight/checks.js';
import type { FileSpec } from '../render/catalog.js';
import type { Task } from '../tasks/context.js';
import type { VrrpState } from '../observe/keepalived-state.js';
import type { Session } from '../transport/session.js';
import type { EndpointCheck } from '../verify/endpoint.js';

// Everything that differs between kinds of cluster, in one object per kind,
// so that the renderer, the planner, the executor, preflight and the drills
// stay the same when a kind is added. hosts.yaml stays the user's contract:
// the topology is derived from it (of.ts), never written in it.

export type TopologyName = EndpointTopologyName | 'proxy-only';

/** The kinds with a VIP: keepalived and haproxy somewhere (kha setup offers these). */
export type EndpointTopologyName = 'dedicated' | 'on-masters' | 'static-pods';

/** What a playbook's host sets and gates may look at while it runs. */
export interface OrderView {
  inv: Inventory;
  sessions: ReadonlyMap<string, Session>;
}

/** The hosts a stage runs on, decided when the stage starts (from where the VIP is then, say). */
export type HostSet = (view: OrderView) => Promise<LoadBalancer[]>;

/** What a host must show before the next one is touched. */
export type Gate = (view: OrderView, lb: LoadBalancer, progress: (text: string) => void) => Promise<void>;

/** What the final check may look at: the facts gathered in this run and the hosts in scope. */
export interface FinalView extends OrderView {
  facts: ReadonlyMap<string, HostFacts>;
  scope: ReadonlySet<string>;
}

/** The last stage of apply: what the endpoint serves now. Throws a HostError, named after `stage`, when it serves nothing. */
export type FinalCheck = (view: FinalView, stage: string, progress: (text: string) => void) => Promise<EndpointCheck>;

export interface Topology {
  name: TopologyName;
  /** The file under playbooks/ (without .yaml) that holds this topology's safe order. */
  playbook: string;
  /** The render catalogue: every file a host of the endpoint gets, in the order they are written. */
  files: readonly FileSpec[];
  /** The tasks its playbook may name. */
  tasks: ReadonlyMap<string, Task>;
  /** The services those tasks manage, in the order they are started. */
  services: readonly EndpointService[];
  /** What the probe must read on each host for the tasks and checks to decide. */
  probe(inv: Inventory): ProbeRequest;
  /** The preflight checks its playbook may name. */
  checks: ReadonlyMap<string, Check>;
  /** The host sets its playbook's stages may run `on`. */
  hostSets: ReadonlyMap<string, HostSet>;
  /** The gates its playbook's stages may name as `then`. */
  gates: ReadonlyMap<string, Gate>;
  /** The checks its playbook may name in the stage that runs on the operator's machine. */
  finalChecks: ReadonlyMap<string, FinalCheck>;
  /** The drills that apply, each with how it injects its fault and heals it. */
  drills: readonly Drill[];
  /** Every other drill, with why it does not apply here: verify-failover says so instead of running it. */
  drillsNotApplicable: ReadonlyMap<DrillName, string>;
  /** keepalived or haproxy runs on the host now: apply changes it only with the operator's yes. */
  serving(session: Session, inv: Inventory): Promise<boolean>;
  /** keepalived's state on a host now, from where its log is kept. */
  vrrpState(session: Session): Promise<VrrpState>;
  /** Whether each service of the endpoint runs on a host now, `active` when it does, else in words (status and the drills read these). */
  serviceStates(session: Session, inv: Inventory): Promise<Record<string, string>>;
}
