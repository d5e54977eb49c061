import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HostFacts, ServiceFacts } from '../../../src/facts/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { KUBELET_DROP_IN, KUBELET_RESTART_PENDING } from '../../../src/kubelet/files.js';
import { confirmKubelet, envMismatch, parseEnv } from '../../../src/kubelet/gate.js';
import { KUBELET_ROLE } from '../../../src/kubelet/role.js';
import { planKubelet } from '../../../src/kubelet/plan.js';
import { packageRoot } from '../../../src/paths.js';
import { renderAll } from '../../../src/render/render.js';
import { probeFor } from '../../../src/role/roles.js';
import { STATE_DIR } from '../../../src/tasks/directories.js';
import { kubeletHosts } from '../../../src/topology/roles.js';
import { FakeSession } from '../../../src/transport/fake.js';
import { debianNode } from '../node-proxy/host.js';

// hosts.yaml kubelet (issue 15 point 5): client-go's HTTP/2 health check for
// the kubelets kha manages, in a drop-in, the kubelet restarted only when it
// changed and only when it runs; taken away again without the section.

function inventory(text: string): Inventory {
  const r = parseInventory(text, 'hosts.yaml', {});
  if (!r.ok) throw new Error(r.problems.map((p) => p.message).join('\n'));
  return r.inventory;
}

const ON_MASTERS = `
cluster: { vip: 10.77.0.30/24, port: 8443 }
lb:
  - { name: cp1, address: 10.77.0.31, interface: eth0 }
  - { name: cp2, address: 10.77.0.32, interface: eth0 }
masters:
  - { name: cp1, address: 10.77.0.31 }
  - { name: cp2, address: 10.77.0.32 }
nodes:
  - { name: w1, address: 10.77.1.31 }
`;
const WITH = `${ON_MASTERS}kubelet: {}\n`;

function kubelet(active: string): ServiceFacts {
  return { name: 'kubelet', present: true, active, enabled: 'enabled', mainPid: active === 'active' ? 4242 : 0, startedAtMonotonicUs: 1 };
}

function facts(options: { dropIn?: string; pending?: boolean; stateDir?: boolean; active?: string }): HostFacts {
  return {
    ...debianNode('w1'),
    files: [
      { path: KUBELET_DROP_IN, exists: options.dropIn !== undefined, mode: options.dropIn !== undefined ? 0o644 : null, owner: null, group: null, content: options.dropIn ?? null },
      { path: KUBELET_RESTART_PENDING, exists: options.pending === true, mode: null, owner: null, group: null, content: null },
    ],
    directories: [{ path: STATE_DIR, exists: options.stateDir ?? true }],
    services: [kubelet(options.active ?? 'active')],
    packages: {},
    packageVersions: {},
  } as HostFacts;
}

const host = (inv: Inventory, name: string) => kubeletHosts(inv).find((h) => h.name === name)!;
const kinds = (changes: readonly { kind: string }[]) => changes.map((c) => c.kind);

describe('kubelet settings: which hosts', () => {
  it("every host kha reaches that runs a kubelet: the masters that are load balancers, then the proxy's hosts", () => {
    expect(kubeletHosts(inventory(WITH)).map((h) => h.name)).toEqual(['cp1', 'cp2', 'w1']);
  });

  it('dedicated load balancers run none, and masters behind them are not reached', () => {
    const inv = inventory(readFileSync(join(packageRoot, 'examples', 'node-proxy.yaml'), 'utf8'));
    expect(kubeletHosts(inv).map((h) => h.name)).toEqual(['w1', 'w2', 'w3']);
    expect(KUBELET_ROLE.hosts(inv)).toEqual(['w1', 'w2', 'w3']);
  });

  it('the probe reads the drop-in, the owed restart and the kubelet beside the other roles', () => {
    const probe = probeFor(inventory(WITH), 'cp1');
    expect(probe.files).toEqual(expect.arrayContaining([KUBELET_DROP_IN, KUBELET_RESTART_PENDING]));
    expect(probe.services).toContain('kubelet');
  });
});

describe('kubelet settings: the drop-in', () => {
  it('renders the two variables client-go reads, with kha\'s defaults (5 s, 3 s), on every kubelet host and no other', () => {
    const hosts = renderAll(inventory(WITH));
    for (const name of ['cp1', 'cp2', 'w1']) {
      const f = hosts.find((h) => h.host === name)!.files.find((x) => x.path === KUBELET_DROP_IN)!;
      expect(f.mode).toBe(0o644);
      expect(f.content).toContain('[Service]\nEnvironment="HTTP2_READ_IDLE_TIMEOUT_SECONDS=5" "HTTP2_PING_TIMEOUT_SECONDS=3"\n');
      expect(f.content).toMatch(/^# Managed by kha .* for /);
    }
    expect(renderAll(inventory(ON_MASTERS)).flatMap((h) => h.files).some((f) => f.path === KUBELET_DROP_IN)).toBe(false);
  });

  it('takes the values hosts.yaml gives', () => {
    const inv = inventory(`${ON_MASTERS}kubelet: { http2_read_idle_timeout_s: 10, http2_ping_timeout_s: 4 }\n`);
    expect(inv.kubelet).toEqual({ http2ReadIdleTimeoutS: 10, http2PingTimeoutS: 4 });
    const [f] = planKubelet(inv, host(inv, 'w1'), facts({}));
    expect(f).toMatchObject({ kind: 'file.write', content: expect.stringContaining('"HTTP2_READ_IDLE_TIMEOUT_SECONDS=10" "HTTP2_PING_TIMEOUT_SECONDS=4"') });
  });
});

describe('kubelet settings: the plan', () => {
  const inv = inventory(WITH);
  const want = () => planKubelet(inv, host(inv, 'w1'), facts({}))[0] as { content: string };

  it('a running kubelet: the drop-in, with its restart owed from the rename, then daemon-reload and one restart', () => {
    const changes = planKubelet(inv, host(inv, 'w1'), facts({}));
    expect(kinds(changes)).toEqual(['file.write', 'systemd.daemon-reload', 'service.restart']);
    expect(changes[0]).toMatchObject({ service: 'kubelet', restartPending: KUBELET_RESTART_PENDING, previous: null, secret: false });
    expect(changes[2]).toMatchObject({ service: 'kubelet', pending: KUBELET_RESTART_PENDING });
  });

  it("kha's state directory is made first where it is missing, for the owed restart's file", () => {
    expect(kinds(planKubelet(inv, host(inv, 'w1'), facts({ stateDir: false })))).toEqual(['directory.create', 'file.write', 'systemd.daemon-reload', 'service.restart']);
  });

  it('a kubelet that is not running (waiting for kubeadm init or join) is not restarted: it reads the drop-in at its next start', () => {
    const changes = planKubelet(inv, host(inv, 'w1'), facts({ active: 'activating', stateDir: false }));
    expect(kinds(changes)).toEqual(['file.write', 'systemd.daemon-reload']);
    expect(changes[0]).not.toHaveProperty('restartPending');
  });

  it('the same drop-in: nothing, unless an earlier run stopped before its restart', () => {
    expect(planKubelet(inv, host(inv, 'w1'), facts({ dropIn: want().content }))).toEqual([]);
    expect(kinds(planKubelet(inv, host(inv, 'w1'), facts({ dropIn: want().content, pending: true })))).toEqual(['service.restart']);
  });

  it('other values: rewritten, the previous one kept for the put-back, and one restart', () => {
    const changes = planKubelet(inv, host(inv, 'w1'), facts({ dropIn: want().content.replace('=5"', '=30"') }));
    expect(kinds(changes)).toEqual(['file.write', 'systemd.daemon-reload', 'service.restart']);
    expect(changes[0]).toMatchObject({ previous: expect.stringContaining('=30"') });
  });

  it("without the section: kha's drop-in is taken away and the kubelet restarted; one kha did not write is left alone", () => {
    const without = inventory(ON_MASTERS);
    expect(kinds(planKubelet(without, host(without, 'w1'), facts({ dropIn: want().content })))).toEqual(['file.remove', 'systemd.daemon-reload', 'service.restart']);
    expect(planKubelet(without, host(without, 'w1'), facts({ dropIn: '[Service]\nEnvironment=HTTP2_PING_TIMEOUT_SECONDS=2\n' }))).toEqual([]);
    expect(planKubelet(without, host(without, 'w1'), facts({}))).toEqual([]);
  });
});

describe('kubelet settings: the gate reads the process', () => {
  const inv = inventory(WITH);

  it('both variables as asked: nothing to say', () => {
    expect(envMismatch(inv, parseEnv(['HTTP2_PING_TIMEOUT_SECONDS=3', 'HTTP2_READ_IDLE_TIMEOUT_SECONDS=5']))).toBeUndefined();
  });

  it('another drop-in after kha\'s set one of them: named with both values', () => {
    expect(envMismatch(inv, parseEnv(['HTTP2_PING_TIMEOUT_SECONDS=3', 'HTTP2_READ_IDLE_TIMEOUT_SECONDS=30']))).toBe('HTTP2_READ_IDLE_TIMEOUT_SECONDS is 30, not 5');
    expect(envMismatch(inv, parseEnv([]))).toBe('HTTP2_READ_IDLE_TIMEOUT_SECONDS is not set, not 5; HTTP2_PING_TIMEOUT_SECONDS is not set, not 3');
  });

  it('without the section the process must have neither', () => {
    expect(envMismatch(inventory(ON_MASTERS), parseEnv([]))).toBeUndefined();
    expect(envMismatch(inventory(ON_MASTERS), parseEnv(['HTTP2_PING_TIMEOUT_SECONDS=3']))).toBe('HTTP2_PING_TIMEOUT_SECONDS is 3, and hosts.yaml has no kubelet section');
  });
});

describe('kubelet settings: the gate after a restart', () => {
  const inv = inventory(WITH);
  const [write, reload, restart] = planKubelet(inv, host(inv, 'w1'), facts({}));

  it('no restart in this run: nothing to confirm, no command', async () => {
    const session = new FakeSession('w1', []);
    await confirmKubelet(session, inv, [], () => undefined);
    expect(session.calls).toEqual([]);
  });

  it('the kubelet back with the settings: said, with its pid', async () => {
    const said: string[] = [];
    const session = new FakeSession('w1', [{ command: /kubelet/, result: { stdout: 'ok 77 HTTP2_PING_TIMEOUT_SECONDS=3 HTTP2_READ_IDLE_TIMEOUT_SECONDS=5 \n' } }]);
    await confirmKubelet(session, inv, [write!, reload!, restart!], (t) => said.push(t));
    expect(said).toEqual(['w1: the kubelet runs with HTTP2_PING_TIMEOUT_SECONDS=3 HTTP2_READ_IDLE_TIMEOUT_SECONDS=5 (pid 77)']);
  });

  it('a kubelet that does not come back: the new drop-in removed, systemd told, the kubelet restarted, and the host fails saying so', async () => {
    const session = new FakeSession('w1', [
      { command: /kubelet/, result: { stdout: 'no kubelet.service is not active\n' } },
      { command: `rm -f ${KUBELET_DROP_IN} && systemctl daemon-reload && systemctl restart kubelet` },
    ]);
    await expect(confirmKubelet(session, inv, [write!, reload!, restart!], () => undefined)).rejects.toThrow(
      "kubelet.service is not active: kha put back the kubelet's previous drop-ins and restarted it",
    );
  });

  it('another drop-in overriding a value: the host fails naming it, and kha leaves the running kubelet as it is', async () => {
    const session = new FakeSession('w1', [{ command: /kubelet/, result: { stdout: 'ok 77 HTTP2_PING_TIMEOUT_SECONDS=3 HTTP2_READ_IDLE_TIMEOUT_SECONDS=30\n' } }]);
    await expect(confirmKubelet(session, inv, [write!, reload!, restart!], () => undefined)).rejects.toThrow(
      'HTTP2_READ_IDLE_TIMEOUT_SECONDS is 30, not 5: another drop-in of kubelet.service sets them after kha',
    );
  });
});
