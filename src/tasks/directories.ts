import type { Change } from '../plan/changes.js';
import type { Task } from './context.js';

/** Where kha records what each service has loaded (see Marker). */
export const STATE_DIR = '/var/lib/kha';

export function requiredDirectories(statsSocket: string): string[] {
  return [statsSocket.slice(0, statsSocket.lastIndexOf('/')) || '/', STATE_DIR];
}

export const directoriesTask: Task = {
  name: 'directories',
  purpose: "directories the distributions forget exist (the stats socket's, source 000/004)",
  plan({ inv, facts }) {
    const changes: Change[] = [];
    for (const path of requiredDirectories(inv.haproxy.stats_socket)) {
      const known = facts.directories.find((d) => d.path === path);
      if (!known?.exists) changes.push({ kind: 'directory.create', path, mode: 0o755, owner: 'root', group: 'root' });
    }
    return changes;
  },
};
