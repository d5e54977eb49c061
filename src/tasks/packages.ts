import type { Task } from './context.js';

export const REQUIRED_PACKAGES = ['keepalived', 'haproxy'] as const;

export const packagesTask: Task = {
  name: 'packages',
  purpose: "keepalived and haproxy are installed, from the host's own repositories (an offline mirror works)",
  plan({ facts }) {
    const missing = REQUIRED_PACKAGES.filter((p) => facts.packages[p] === null);
    return missing.length === 0 ? [] : [{ kind: 'package.install', manager: facts.packageManager, packages: [...missing] }];
  },
};
