import type { HostFacts } from '../facts/types.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import type { Change, EndpointService } from '../plan/changes.js';
import type { RenderedFile } from '../render/catalog.js';

/** Everything a task may look at; tasks read it and return changes, nothing else. */
export interface TaskContext {
  inv: Inventory;
  lb: LoadBalancer;
  facts: HostFacts;
  /** The files this host should have, rendered with its real interface. */
  files: RenderedFile[];
  /** Changes planned by the tasks before this one (services react to files). */
  planned: readonly Change[];
  /** The services the topology runs, in the order they are started. */
  services: readonly EndpointService[];
}

export interface Task {
  name: string;
  /** One line for people: what the task makes true. */
  purpose: string;
  plan(ctx: TaskContext): Change[];
}
