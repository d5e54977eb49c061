import type { Task } from './context.js';

function desiredSettings(content: string): [string, string][] {
  return content
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [k = '', ...v] = l.split('=');
      return [k.trim(), v.join('=').trim()];
    });
}

export const sysctlTask: Task = {
  name: 'sysctl',
  purpose: 'kernel settings kha needs are in effect now, not only after a reboot',
  plan({ facts, files, planned }) {
    const file = files.find((f) => f.spec.service === 'sysctl');
    if (!file) return [];
    const written = planned.some((c) => c.kind === 'file.write' && c.path === file.path && !c.modeOnly);
    const stale = desiredSettings(file.content).some(([k, v]) => facts.sysctls[k] !== v);
    return written || stale ? [{ kind: 'sysctl.load', path: file.path }] : [];
  },
};
