import type { Inventory, KubeletSettings } from '../inventory/model.js';
import type { FileSpec } from '../render/catalog.js';
import { header } from '../render/context.js';
import type { KubeletHost } from '../topology/roles.js';
import { STATE_DIR } from '../tasks/directories.js';

// The one file kha writes for a kubelet it manages (hosts.yaml kubelet):
// client-go's HTTP/2 health check, which the kubelet reads from its
// environment when it starts.

/** After kubeadm's 10-kubeadm.conf: systemd reads a unit's drop-ins in name order. */
export const KUBELET_DROP_IN = '/etc/systemd/system/kubelet.service.d/20-kha-http2-health.conf';

/** Where a kubelet restart is owed: made with the drop-in's rename, removed once the kubelet has restarted. */
export const KUBELET_RESTART_PENDING = `${STATE_DIR}/kubelet-settings.restart-pending`;

/** The variables client-go reads, as the kubelet's process must have them. */
export function kubeletEnvironment(settings: KubeletSettings): Record<string, string> {
  return {
    HTTP2_READ_IDLE_TIMEOUT_SECONDS: String(settings.http2ReadIdleTimeoutS),
    HTTP2_PING_TIMEOUT_SECONDS: String(settings.http2PingTimeoutS),
  };
}

export const KUBELET_ENV_NAMES = Object.keys(kubeletEnvironment({ http2ReadIdleTimeoutS: 0, http2PingTimeoutS: 0 }));

function settingsOf(inv: Inventory): KubeletSettings {
  if (!inv.kubelet) throw new Error('the kubelet drop-in is rendered only for an inventory with a kubelet section');
  return inv.kubelet;
}

export const kubeletFiles: readonly FileSpec<KubeletHost>[] = [
  {
    id: 'kubelet-http2-health.conf',
    template: 'kubelet-http2-health.conf.ejs',
    path: KUBELET_DROP_IN,
    mode: 0o644,
    service: 'kubelet',
    when: (inv) => inv.kubelet !== undefined,
    context: (inv, host) => {
      const s = settingsOf(inv);
      return { header: header(host.name), readIdleS: s.http2ReadIdleTimeoutS, pingTimeoutS: s.http2PingTimeoutS };
    },
  },
];
