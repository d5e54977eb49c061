import type { PackageManager } from '../facts/types.js';
import type { PodProcessSpec } from '../observe/pod-processes.js';
import type { KubeClient, Service } from '../render/catalog.js';

// The closed set of things kha ever changes on a host. A task's plan is a
// list of these; the executor has exactly one way to carry out each kind, and
// --dry-run prints the same list. Plain data: easy to test, print and diff.

/**
 * The services kha starts, reloads or stops: the endpoint's two, the local
 * proxy's own unit (docs/node-proxy.md), nginx, whose distribution unit
 * kha only ever disables on a proxy host (see tasks in node-proxy/tasks.ts),
 * and the node's kubelet and kube-proxy, which kha only restarts after
 * pointing their kubeconfig at the proxy (node-proxy/kubelet.ts), and
 * kha-handover, whose stop hands the VIP over at shutdown where keepalived
 * runs in a static pod (topology/static-pods/handover.ts).
 */
export type ServiceName = EndpointService | 'kha-node-proxy' | 'nginx' | KubeClient | 'kha-handover';

/** The endpoint's services, which a topology runs (topology.ts `services`). */
export type EndpointService = 'keepalived' | 'haproxy';

export type Change =
  | { kind: 'package.install'; manager: PackageManager; packages: string[] }
  | { kind: 'selinux.boolean'; name: string; value: boolean }
  | { kind: 'selinux.permissive' }
  | { kind: 'firewalld.rule'; zone: string; rule: FirewalldRule }
  | { kind: 'ufw.allow'; rule: string }
  | { kind: 'ufw.reload' }
  | { kind: 'directory.create'; path: string; mode: number; owner: string; group: string }
  | {
      kind: 'file.write';
      path: string;
      mode: number;
      content: string;
      /** What is there now; null when the file is missing. */
      previous: string | null;
      /** Only the mode differs. */
      modeOnly: boolean;
      /** Validator command template (`{file}` is the candidate). */
      validate?: string;
      secret: boolean;
      service: Service;
      /** In a kubelet's staticPodPath: the backup is a dotfile, which the kubelet does not read (render/catalog.ts kubeletReads). */
      hiddenBackup?: true;
      /** Made in the step that renames the file into place: a restart of its service is owed until that restart removes it (node-proxy/kubelet.ts restartPendingPath). */
      restartPending?: string;
    }
  /** A file kha wrote and no longer runs anything from (the proxy's unit once it is a static pod): moved aside to its backup. */
  | { kind: 'file.remove'; path: string; why: string }
  /** A static pod's manifest moved aside to a hidden backup; done once the kubelet has stopped the pod (the processes of every form it may run gone). */
  | { kind: 'pod.remove'; manifest: string; name: string; pods: PodProcessSpec[]; why: string }
  | { kind: 'sysctl.load'; path: string }
  | { kind: 'systemd.daemon-reload' }
  | { kind: 'service.enable'; service: ServiceName }
  /** `marker`: what kha records once the service has loaded its files; a unit that loads none (kha-handover) has none. */
  | { kind: 'service.start'; service: ServiceName; marker?: Marker }
  | { kind: 'service.reload'; service: ServiceName; why: string; marker: Marker }
  | { kind: 'service.stop'; service: ServiceName; why: string }
  /** A service that reads what changed only when it starts (a kubelet's kubeconfig): restarted, and put back with its files when it does not come up. */
  | {
      kind: 'service.restart';
      service: ServiceName;
      why: string;
      /** A file that says this restart is owed (the kubeconfig's write made it): removed once the service has restarted. */
      pending?: string;
    }
  /** Stopped now and not started at boot: a distribution's unit that a package install brought up beside kha's own. */
  | { kind: 'service.disable'; service: ServiceName; why: string }
  /**
   * The VIP handed to another master before this one's static pods restart:
   * `script move` stops keepalived's container as the kubelet would and
   * waits for it to end (topology/static-pods/handover.ts).
   */
  | { kind: 'vip.handover'; vip: string; script: string; why: string };

/**
 * After a service has (re)loaded its configuration, kha records a digest of
 * what it loaded. A file written but never loaded (an interrupted apply, a
 * failed reload) then shows up as "needs reload" on the next run.
 */
export interface Marker {
  path: string;
  digest: string;
}

export type FirewalldRule =
  | { type: 'port'; port: number; protocol: 'tcp' }
  | { type: 'rich'; text: string };

export function describeChange(c: Change): string {
  switch (c.kind) {
    case 'package.install':
      return `install ${c.packages.join(', ')} (${c.manager})`;
    case 'selinux.boolean':
      return `setsebool -P ${c.name} ${c.value ? 'on' : 'off'}`;
    case 'selinux.permissive':
      return 'SELinux: permissive now and at boot';
    case 'firewalld.rule':
      return c.rule.type === 'port'
        ? `firewalld (${c.zone}): open ${c.rule.port}/${c.rule.protocol}`
        : `firewalld (${c.zone}): rich rule ${c.rule.text}`;
    case 'ufw.allow':
      return `ufw allow ${c.rule}`;
    case 'ufw.reload':
      return 'ufw reload (VRRP rules in before.rules)';
    case 'directory.create':
      return `create directory ${c.path} (${c.owner}:${c.group} ${c.mode.toString(8)})`;
    case 'file.write':
      if (c.previous === null) return `create ${c.path} (${c.mode.toString(8).padStart(4, '0')})`;
      return c.modeOnly ? `chmod ${c.mode.toString(8).padStart(4, '0')} ${c.path}` : `update ${c.path}`;
    case 'file.remove':
      return `remove ${c.path} (${c.why})`;
    case 'pod.remove':
      return `remove ${c.manifest} and wait until the kubelet has stopped ${c.name} (${c.why})`;
    case 'sysctl.load':
      return `load sysctl settings from ${c.path}`;
    case 'systemd.daemon-reload':
      return 'systemctl daemon-reload';
    case 'service.enable':
      return `enable ${c.service} at boot`;
    case 'service.start':
      return `start ${c.service}`;
    case 'service.reload':
      return `reload ${c.service} (${c.why})`;
    case 'service.stop':
      return `stop ${c.service} (${c.why})`;
    case 'service.restart':
      return `restart ${c.service} (${c.why})`;
    case 'service.disable':
      return `stop and disable ${c.service} (${c.why})`;
    case 'vip.handover':
      return `hand ${c.vip} to another master (${c.why})`;
  }
}
