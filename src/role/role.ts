import type { HostFacts, ProbeRequest } from '../facts/types.js';
import type { Inventory } from '../inventory/model.js';
import type { Change } from '../plan/changes.js';
import type { TaskPlan } from '../plan/plan.js';
import type { Session } from '../transport/session.js';
import type { EndpointCheck } from '../verify/endpoint.js';

// A role is one job kha does on a set of hosts: carrying the endpoint (the
// topology's keepalived and haproxy), or the local proxy of a node. A host may
// have several. Apply, status and the playbook loader look every role up the
// same way, so a role is added by writing one of these, never by teaching the
// runner or the planner a new special case.

/** What a role's host sets and gates may look at while apply runs. */
export interface RoleView {
  inv: Inventory;
  sessions: ReadonlyMap<string, Session>;
  /** What the endpoint served at the last check of this run, when one ran. */
  endpoint?: EndpointCheck;
  /** What each host has had done to it so far in this run (a gate confirms what its host's changes need: a kubelet pointed at the proxy). */
  done?: ReadonlyMap<string, readonly Change[]>;
}

/** The hosts a stage runs on, by name, decided when the stage starts. */
export type RoleHostSet = (view: RoleView) => Promise<string[]>;

/** What a host must show, after it changed, before the next one is touched. */
export type RoleGate = (view: RoleView, host: string, progress: (text: string) => void) => Promise<void>;

export interface Role {
  /** How a person names it: in errors, and in docs. */
  name: string;
  /** Every host that has it, in hosts.yaml's order. */
  hosts(inv: Inventory): string[];
  /** The host sets its stages may run `on`: no two roles share a word. */
  hostSets: ReadonlyMap<string, RoleHostSet>;
  /** The tasks its stages may name. */
  tasks: ReadonlySet<string>;
  /** The gates its stages may name as `then`. */
  gates: ReadonlyMap<string, RoleGate>;
  /** What the probe must read on one of its hosts for its tasks to decide. */
  probe(inv: Inventory): ProbeRequest;
  /**
   * The host's plan for these tasks of the role, in their order. `earlier`:
   * changes already made or planned on the host in this run (by an earlier
   * stage, or another role's tasks), which its tasks react to.
   */
  plan(inv: Inventory, host: string, facts: HostFacts, tasks: readonly string[], earlier: readonly Change[]): TaskPlan[];
  /** What the role runs on the host runs now: apply changes it only with the operator's yes. */
  serving(inv: Inventory, host: string, session: Session, facts: HostFacts): Promise<boolean>;
}
