import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HostFacts } from '../../../src/facts/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { packageRoot } from '../../../src/paths.js';
import { CHECKS } from '../../../src/preflight/checks.js';
import { probeVrrpPaths } from '../../../src/preflight/vrrp-path.js';
import { DETECT_COMMAND, parseObservation, parseTool } from '../../../src/preflight/vrrp-probe.js';
import { markerPath } from '../../../src/tasks/services.js';
import { TransportError } from '../../../src/transport/errors.js';
import { FakeSession, type ScriptStep } from '../../../src/transport/fake.js';
import { fixtureFacts } from '../facts/fixture.js';

// The VRRP path check against scripted hosts: what each host's probe prints
// stands for what its kernel saw (lb1 is 10.77.0.11, lb2 10.77.0.12).

function inventory(patch: (t: string) => string = (t) => t): Inventory {
  const r = parseInventory(patch(readFileSync(join(packageRoot, 'examples', 'hosts.yaml'), 'utf8')), 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

/** A host that finds `tool` and, when it probes, prints `output`. */
function host(name: string, tool: string, output?: string): FakeSession {
  const steps: ScriptStep[] = [{ command: DETECT_COMMAND, result: { stdout: `${tool}\n` } }];
  if (output !== undefined) steps.push({ command: /./, result: { stdout: output } });
  return new FakeSession(name, steps);
}

const BOTH_WAYS = {
  lb1: 'got 10.77.0.12 10.77.0.11\nwire 10.77.0.12 10.77.0.11\n',
  lb2: 'got 10.77.0.11 10.77.0.12\nwire 10.77.0.11 10.77.0.12\n',
};

function debianFacts(): Map<string, HostFacts> {
  return new Map([
    ['lb1', fixtureFacts('debian-12', 'lb1')],
    ['lb2', fixtureFacts('debian-12', 'lb2')],
  ]);
}

async function check(sessions: FakeSession[], inv = inventory(), facts = debianFacts()) {
  const found = await CHECKS.get('vrrp-path')!.run({ inv, facts, sessions: new Map(sessions.map((s) => [s.host, s])) });
  for (const s of sessions) s.assertDone();
  return found;
}

describe('VRRP between the load balancers', () => {
  it('passes when every direction delivers, and each host probes with the run\'s shared arguments', async () => {
    const lb1 = host('lb1', 'python python3', BOTH_WAYS.lb1);
    const lb2 = host('lb2', 'python /usr/libexec/platform-python', BOTH_WAYS.lb2);
    expect(await check([lb1, lb2])).toEqual([]);
    const [, probe1] = lb1.commands();
    const [, probe2] = lb2.commands();
    expect(probe1).toMatch(/^python3 -c '.*' '\{"token":"([0-9a-f]{16})","addresses":\["10\.77\.0\.11","10\.77\.0\.12"\],"me":0,"senders":\[0,1\],"multicast":false,"seconds":2\.5,"group":"224\.0\.0\.18"\}'$/s);
    expect(probe2).toMatch(/^\/usr\/libexec\/platform-python -c '.*' '\{"token":"[0-9a-f]{16}","addresses":\[[^\]]*\],"me":1,/s);
    // One token for the whole run: each host must recognise the other's packets.
    expect(probe2).toContain(/"token":"[0-9a-f]{16}"/.exec(probe1!)![0]);
  });

  it('names the blocked direction, the working one, the cause and the rule that fixes it', async () => {
    const found = await check([host('lb1', 'python python3', BOTH_WAYS.lb1), host('lb2', 'python python3', 'wire 10.77.0.11 10.77.0.12\n')]);
    expect(found).toHaveLength(1);
    const [p] = found;
    expect(p).toMatchObject({ host: 'lb2', check: 'vrrp-path' });
    expect(p!.warning).toBeUndefined();
    expect(p!.message).toMatch(/^lb1 → lb2 \(lb2 → lb1 works\): VRRP \(IP protocol 112\) from lb1 reaches lb2's network interface, but lb2's own firewall drops it/);
    expect(p!.message).toContain(`firewall-cmd --permanent --add-rich-rule='rule family="ipv4" source address="10.77.0.11" protocol value="vrrp" accept'`);
    expect(p!.message).toContain('nft insert rule inet filter input ip saddr 10.77.0.11 ip protocol vrrp accept');
  });

  it('both directions lost on the way: two problems, each naming what lies between', async () => {
    const found = await check([host('lb1', 'python python3', ''), host('lb2', 'python python3', '')]);
    expect(found.map((p) => [p.host, p.message.split(':')[0]])).toEqual([
      ['lb2', 'lb1 → lb2 (lb2 → lb1 fails too)'],
      ['lb1', 'lb2 → lb1 (lb1 → lb2 fails too)'],
    ]);
    for (const p of found) {
      expect(p.warning).toBeUndefined();
      expect(p.message).toContain("never reaches");
      expect(p.message).toContain('passes only TCP, UDP and ICMP');
      expect(p.message).toContain('source/destination check');
    }
  });

  it('a sender that cannot reach the peer at all says so as its own problem', async () => {
    const found = await check([host('lb1', 'python python3', 'unsent 10.77.0.12 no ARP answer from 10.77.0.12\n'), host('lb2', 'python python3', '')]);
    expect(found).toContainEqual({ host: 'lb1', check: 'vrrp-path', message: expect.stringMatching(/^lb1 → lb2 .*: lb1 cannot send VRRP \(IP protocol 112\) to lb2: no ARP answer from 10\.77\.0\.12$/) });
  });

  it('warns, never passes, when a host has neither python3 nor tcpdump', async () => {
    const found = await check([host('lb1', 'python python3'), host('lb2', 'none')]);
    expect(found).toEqual([
      { host: 'lb2', check: 'vrrp-path', warning: true, message: expect.stringContaining('VRRP to and from lb2 not checked: it has neither python3 nor tcpdump') },
    ]);
  });

  it('with tcpdump only: the host listens at its interface, and what it could not check is a warning', async () => {
    const lb2 = host('lb2', 'tcpdump', 'wire 10.77.0.11 10.77.0.12\nexit 124\n');
    const found = await check([host('lb1', 'python python3', ''), lb2]);
    expect(lb2.commands()[1]).toMatch(/tcpdump -nl -i any 'ip proto 112 and ip\[0\] = 0x45 and ip\[28:4\] = 0x[0-9a-f]{8} and ip\[32:4\] = 0x[0-9a-f]{8}'/);
    expect(found).toEqual([{ host: 'lb2', check: 'vrrp-path', warning: true, message: expect.stringContaining('VRRP from lb2 not checked and VRRP to lb2 only up to its network interface') }]);
  });

  it('a probe that could not run is a warning with its reason', async () => {
    const lb2 = new FakeSession('lb2', [
      { command: DETECT_COMMAND, result: { stdout: 'python python3\n' } },
      { command: /./, error: new TransportError('lb2', 'exec', 'timed out after 12500 ms and was killed') },
    ]);
    const found = await check([host('lb1', 'python python3', ''), lb2]);
    expect(found).toEqual([{ host: 'lb2', check: 'vrrp-path', warning: true, message: expect.stringMatching(/^VRRP to and from lb2 not checked: .*timed out/) }]);
  });

  it('is skipped once kha\'s keepalived runs everywhere: the path then carries our own adverts', async () => {
    const facts = debianFacts();
    for (const f of facts.values()) f.files.find((x) => x.path === markerPath('keepalived'))!.content = 'a digest\n';
    expect(await check([new FakeSession('lb1'), new FakeSession('lb2')], inventory(), facts)).toEqual([]);
  });

  it('firewalld that kha is about to open is expected on a first build: a warning, not a stop', async () => {
    const facts = debianFacts();
    facts.set('lb2', fixtureFacts('rocky-9', 'lb2'));
    const found = await check([host('lb1', 'python python3', BOTH_WAYS.lb1), host('lb2', 'python python3', 'wire 10.77.0.11 10.77.0.12\n')], inventory(), facts);
    expect(found).toEqual([
      {
        host: 'lb2',
        check: 'vrrp-path',
        warning: true,
        message: expect.stringMatching(/^lb1 → lb2: firewalld on lb2 does not let VRRP from lb1 in yet.*rich rule rule family="ipv4" source address="10\.77\.0\.11" protocol value="vrrp" accept.*up to lb2's network interface the path works$/),
      },
    ]);
  });

  it('firewalld that already accepts VRRP from the peer: the drop is something else, a stop', async () => {
    const facts = debianFacts();
    const lb2 = fixtureFacts('rocky-9', 'lb2');
    lb2.firewall.firewalld!.protocols.push('vrrp');
    lb2.firewall.firewalld!.permanent!.protocols.push('vrrp');
    facts.set('lb2', lb2);
    const found = await check([host('lb1', 'python python3', BOTH_WAYS.lb1), host('lb2', 'python python3', 'wire 10.77.0.11 10.77.0.12\n')], inventory(), facts);
    expect(found).toEqual([{ host: 'lb2', check: 'vrrp-path', message: expect.stringContaining("lb2's own firewall drops it") }]);
  });

  it('a firewall kha will not touch (security.firewall: none) stays a stop', async () => {
    const facts = debianFacts();
    facts.set('lb2', fixtureFacts('rocky-9', 'lb2'));
    const inv = inventory((t) => t.replace('firewall: auto', 'firewall: none'));
    const found = await check([host('lb1', 'python python3', BOTH_WAYS.lb1), host('lb2', 'python python3', 'wire 10.77.0.11 10.77.0.12\n')], inv, facts);
    expect(found).toEqual([{ host: 'lb2', check: 'vrrp-path', message: expect.stringContaining("lb2's own firewall drops it") }]);
  });
});

describe('VRRP by multicast (keepalived.unicast: false)', () => {
  const multicast = () => inventory((t) => t.replace('unicast: true', 'unicast: false'));

  it('multicast lost while unicast arrives: the network drops multicast, so unicast: true', async () => {
    const found = await check([host('lb1', 'python python3', BOTH_WAYS.lb1), host('lb2', 'python python3', BOTH_WAYS.lb2)], multicast());
    expect(found).toHaveLength(2);
    expect(found[0]!.message).toMatch(/^lb1 → lb2 \(lb2 → lb1 fails too\): VRRP \(IP protocol 112\) to 224\.0\.0\.18 from lb1 never reaches lb2, while unicast VRRP does: .*set keepalived\.unicast: true$/);
  });

  it('multicast delivered both ways passes', async () => {
    const lb1 = host('lb1', 'python python3', 'got 10.77.0.12 224.0.0.18\n');
    const lb2 = host('lb2', 'python python3', 'got 10.77.0.11 224.0.0.18\n');
    expect(await check([lb1, lb2], multicast())).toEqual([]);
    expect(lb1.commands()[1]).toContain('"multicast":true');
  });
});

describe('the probe\'s words', () => {
  it('accepts only the interpreters kha offered', () => {
    expect(parseTool('python /usr/libexec/platform-python\n')).toEqual({ kind: 'python', path: '/usr/libexec/platform-python' });
    expect(parseTool('python /tmp/evil; rm -rf /')).toEqual({ kind: 'none' });
    expect(parseTool('tcpdump')).toEqual({ kind: 'tcpdump' });
  });

  it('a capture that ended otherwise than by its time limit did not run', () => {
    expect(parseObservation('tcpdump eth0: You don\'t have permission to capture on that device\nexit 1\n').failed).toBe(
      "tcpdump stopped (exit 1): eth0: You don't have permission to capture on that device",
    );
    expect(parseObservation('wire 10.77.0.11 10.77.0.12\nexit 124\n').failed).toBeUndefined();
  });

  it('reports per direction for the setup wizard, with a diagnosis line per loss', async () => {
    const sessions = new Map([
      ['a', host('a', 'python python3', 'got 10.0.0.2 10.0.0.1\n')],
      ['b', host('b', 'python python3', 'wire 10.0.0.1 10.0.0.2\n')],
    ]);
    const r = await probeVrrpPaths([{ name: 'a', address: '10.0.0.1' }, { name: 'b', address: '10.0.0.2' }], true, sessions);
    expect(r.paths).toEqual([
      { from: 'a', to: 'b', mode: 'unicast', delivered: false, checkedTo: 'socket', lost: 'receiver' },
      { from: 'b', to: 'a', mode: 'unicast', delivered: true, checkedTo: 'socket' },
    ]);
    expect(r.unchecked).toEqual([]);
    expect(r.diagnosis).toEqual([expect.stringMatching(/^a → b \(b → a works\): /)]);
  });
});
