import type { HostFacts } from '../facts/types.js';
import type { Inventory } from '../inventory/model.js';
import type { Change } from '../plan/changes.js';
import { renderKubelet } from '../render/render.js';
import { STATE_DIR } from '../tasks/directories.js';
import type { KubeletHost } from '../topology/roles.js';
import { KUBELET_DROP_IN, KUBELET_RESTART_PENDING } from './files.js';

// What apply does for one kubelet it manages: the drop-in as hosts.yaml's
// kubelet section says, or gone when the section is. A running kubelet reads
// its environment only when it starts, so it is restarted, once, and only
// when the drop-in changed. One that is not running (installed, waiting for
// kubeadm init or join, restarting every few seconds) takes the settings at
// its next start: systemd's daemon-reload is enough.

/** A drop-in kha wrote: the only kind it removes. */
function isKhas(content: string | null): boolean {
  return content?.startsWith('# Managed by kha ') === true;
}

export function planKubelet(inv: Inventory, host: KubeletHost, facts: HostFacts): Change[] {
  const file = facts.files.find((f) => f.path === KUBELET_DROP_IN);
  const running = facts.services.find((s) => s.name === 'kubelet')?.active === 'active';
  const restart = (why: string): Change[] => (running ? [{ kind: 'service.restart', service: 'kubelet', pending: KUBELET_RESTART_PENDING, why }] : []);
  const [want] = renderKubelet(inv, host);
  if (want) {
    if (file?.exists && file.content === want.content) {
      const owed = facts.files.find((f) => f.path === KUBELET_RESTART_PENDING)?.exists === true;
      const chmod: Change[] = file.mode === want.mode ? [] : [{ kind: 'file.write', path: want.path, mode: want.mode, content: want.content, previous: file.content, modeOnly: true, secret: false, service: 'kubelet' }];
      return [...chmod, ...(owed ? restart('a run stopped after it wrote the drop-in and before it restarted the kubelet, which may still run without it') : [])];
    }
    const stateDir = facts.directories.find((d) => d.path === STATE_DIR)?.exists === true;
    return [
      ...(stateDir || !running ? [] : [{ kind: 'directory.create', path: STATE_DIR, mode: 0o755, owner: 'root', group: 'root' } as const]),
      {
        kind: 'file.write',
        path: want.path,
        mode: want.mode,
        content: want.content,
        previous: file?.exists ? file.content : null,
        modeOnly: false,
        secret: false,
        service: 'kubelet',
        ...(running && { restartPending: KUBELET_RESTART_PENDING }),
      },
      { kind: 'systemd.daemon-reload' },
      ...restart('it reads HTTP2_READ_IDLE_TIMEOUT_SECONDS and HTTP2_PING_TIMEOUT_SECONDS only when it starts'),
    ];
  }
  if (!file?.exists || !isKhas(file.content)) return [];
  return [
    { kind: 'file.remove', path: KUBELET_DROP_IN, why: 'hosts.yaml has no kubelet section: client-go\'s defaults again' },
    { kind: 'systemd.daemon-reload' },
    ...restart('it runs with the removed settings until it starts again'),
  ];
}
