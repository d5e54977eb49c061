import type { Task } from './context.js';
import { directoriesTask } from './directories.js';
import { filesTask } from './files.js';
import { firewallTask } from './firewall.js';
import { packagesTask } from './packages.js';
import { selinuxTask } from './selinux.js';
import { servicesTask } from './services.js';
import { sysctlTask } from './sysctl.js';

export const TASKS: ReadonlyMap<string, Task> = new Map(
  [packagesTask, selinuxTask, directoriesTask, firewallTask, filesTask, sysctlTask, servicesTask].map((t) => [t.name, t]),
);
