import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../../src/inventory/load.js';
import { packageRoot } from '../../../src/paths.js';
import { renderLoadBalancer } from '../../../src/render/render.js';
import { RELEASE_SCRIPT_PATH } from '../../../src/render/context.js';

// The release script (templates/kha-release-connections.sh.ejs) run by a real
// sh against stand-in `ip`, `ss` and `sleep` that record what they were asked:
// what it does in each case, without a network. The lab shows it working.

const r = parseInventory(readFileSync(join(packageRoot, 'examples', 'hosts.yaml'), 'utf8'), 'hosts.yaml', {});
if (!r.ok) throw new Error(JSON.stringify(r.problems));
const inv = r.inventory;
const script = renderLoadBalancer(inv, inv.lbs[0]!, 'eth0').find((f) => f.path === RELEASE_SCRIPT_PATH)!.content;

const HELD = 'ESTAB 0 0 10.77.0.10:6443 10.77.0.2:40000';

function run(args: string[], world: { vipOnEth0: boolean; sockets: boolean; vipOnLo?: boolean }, env: Record<string, string> = {}, waitForCalls = false): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kha-release-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const t of ['sh', 'grep', 'cat']) {
    const found = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(found, join(bin, t));
  }
  const calls = join(dir, 'calls');
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${calls}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  stub(
    'ip',
    `case "$*" in *"-o addr show dev eth0"*) ${world.vipOnEth0 ? "echo '2: eth0    inet 10.77.0.10/24 scope global secondary eth0'" : 'true'} ;;` +
      ` *"-o addr show dev lo"*) ${world.vipOnLo ? "echo '1: lo    inet 10.77.0.10/32 scope global lo'" : 'true'} ;; esac`,
  );
  stub('ss', world.sockets ? `case "$*" in -K*) ;; *) echo 'State Recv-Q Send-Q Local Address:Port Peer Address:Port'; echo '${HELD}' ;; esac` : 'true');
  stub('sleep', 'true');
  stub('setsid', 'true');
  writeFileSync(join(dir, 'release.sh'), script);
  const result = spawnSync(join(bin, 'sh'), [join(dir, 'release.sh'), ...args], { encoding: 'utf8', env: { PATH: bin, ...env } });
  // A detached copy records its call after the script has returned: wait for the whole line, not only the file
  // (`>>` creates it before writing, and a busy machine can show it empty).
  const recorded = () => existsSync(calls) && readFileSync(calls, 'utf8').endsWith('\n');
  for (let i = 0; waitForCalls && i < 250 && !recorded(); i++) spawnSync('sleep', ['0.02']);
  let out: string[] = [];
  try {
    out = readFileSync(calls, 'utf8').trim().split('\n');
  } catch {
    // nothing was called
  }
  rmSync(dir, { recursive: true, force: true });
  expect(result.status, result.stderr).toBe(0);
  return out;
}

/** On the way out: off lo unless this host holds the VIP. */
const OFF_LO = ['ip -4 -o addr show dev eth0', 'ip -4 addr del 10.77.0.10/32 dev lo'];
/** Off lo at once after the resets, and not again on the way out; then whatever still has the VIP as its own address (a client here that reconnected meanwhile) aborted. */
const RELEASE = [
  'ip -4 addr add 10.77.0.10/32 dev lo',
  'ip -4 -o addr show dev eth0',
  'ss -K state established state close-wait state fin-wait-1 state closing state last-ack ( sport = :6443 ) src 10.77.0.10',
  OFF_LO[1]!,
  'ss -K -t state connected src 10.77.0.10',
];
/** Is it here? On the interface (held: nothing to do), then on lo (the holder kept it there: a release to run). */
const LOOK = ['ip -4 -o addr show dev eth0', 'ip -4 -o addr show dev lo'];
/** Any connection left on the VIP? */
const LEFT = 'ss -tn state established state close-wait state fin-wait-1 state closing state last-ack ( sport = :6443 )';
/** As the detached copy runs. */
const DETACHED = { KHA_RELEASE_DETACHED: '1' };

describe('the release script', () => {
  it("as keepalived's child, only starts the release in a session of its own", () => {
    expect(run(['leaving'], { vipOnEth0: false, sockets: true }, {}, true)).toEqual([expect.stringMatching(/^setsid \S+release\.sh leaving$/)]);
  });

  it("as the VIP leaves the holder (stop, FAULT), kept on lo: there for a backup's master-down interval and the margin, then every connection on it reset, then off lo", () => {
    // Not one advert: a backup that missed the goodbye advert takes over only after its master-down interval.
    expect(run(['leaving'], { vipOnEth0: false, vipOnLo: true, sockets: true }, DETACHED)).toEqual([...LOOK, RELEASE[0], 'sleep 0.50', ...RELEASE.slice(1)]);
    // No connection (haproxy died with them): the moment on lo still answers SYNs sent before the new holder's ARP arrived.
    expect(run(['leaving'], { vipOnEth0: false, vipOnLo: true, sockets: false }, DETACHED)).toEqual([...LOOK, RELEASE[0], 'sleep 0.50', ...RELEASE.slice(1)]);
  });

  it('a backup that stops or goes FAULT: nothing to hand over, the VIP never put on lo', () => {
    expect(run(['leaving'], { vipOnEth0: false, sockets: false }, DETACHED)).toEqual([...LOOK, LEFT, ...OFF_LO]);
  });

  it('BACKUP, where every start goes too: only with connections left on the VIP, or the VIP left on lo', () => {
    expect(run(['backup'], { vipOnEth0: false, sockets: false })).toEqual([...LOOK, LEFT, ...OFF_LO]);
    expect(run(['backup'], { vipOnEth0: false, sockets: true })).toEqual([...LOOK, LEFT, RELEASE[0], 'sleep 0.20', ...RELEASE.slice(1)]);
    // A higher priority took the VIP back from a holder: it had kept it on lo.
    expect(run(['backup'], { vipOnEth0: false, vipOnLo: true, sockets: false })).toEqual([...LOOK, RELEASE[0], 'sleep 0.20', ...RELEASE.slice(1)]);
  });

  it('does nothing on the holder (a notify that came late, or a VIP taken back), and leaves it the VIP on lo', () => {
    expect(run(['leaving'], { vipOnEth0: true, sockets: true }, DETACHED)).toEqual(['ip -4 -o addr show dev eth0', 'ip -4 -o addr show dev eth0']);
  });

  it('as keepalived takes the VIP, and as haproxy ends on the holder: on lo too, so that it is never on neither as it leaves; on a host that lost it again, nothing', () => {
    for (const action of ['master', 'haproxy-stopped']) {
      expect(run([action], { vipOnEth0: true, sockets: true })).toEqual(['ip -4 -o addr show dev eth0', 'ip -4 addr add 10.77.0.10/32 dev lo']);
      expect(run([action], { vipOnEth0: false, sockets: true })).toEqual(['ip -4 -o addr show dev eth0']);
    }
    expect(renderLoadBalancer(inv, inv.lbs[0]!, 'eth0').find((f) => f.path === '/etc/keepalived/keepalived.conf')!.content).toContain(
      'notify_master "/etc/keepalived/kha-release-connections.sh master" root',
    );
  });

  it('after keepalived was killed: waits out the backup\'s master-down interval before the reset', () => {
    expect(run(['stopped'], { vipOnEth0: false, sockets: true }, { SERVICE_RESULT: 'signal' })).toEqual([...LOOK, LEFT, RELEASE[0], 'sleep 0.50', ...RELEASE.slice(1)]);
    // The holder killed: its wrapper (pods) took the VIP off the interface, and it is still on lo.
    expect(run(['stopped'], { vipOnEth0: false, vipOnLo: true, sockets: false }, { SERVICE_RESULT: 'signal' })).toEqual([...LOOK, RELEASE[0], 'sleep 0.50', ...RELEASE.slice(1)]);
  });

  it('after a clean stop: only connections left over, at once; none left, nothing at all', () => {
    expect(run(['stopped'], { vipOnEth0: false, sockets: true }, { SERVICE_RESULT: 'success' })).toContain('sleep 0');
    // A VIP an interrupted run left on lo is taken off all the same.
    expect(run(['stopped'], { vipOnEth0: false, sockets: false }, { SERVICE_RESULT: 'success' })).toEqual([...LOOK, LEFT, ...OFF_LO]);
  });
});
