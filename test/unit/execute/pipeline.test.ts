import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostError } from '../../../src/errors.js';
import type { ApplyEvent } from '../../../src/execute/events.js';
import { carryOut } from '../../../src/execute/pipeline.js';
import { probeCommand } from '../../../src/facts/gather.js';
import type { HostFacts } from '../../../src/facts/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { packageRoot } from '../../../src/paths.js';
import { planHost, probeRequest } from '../../../src/plan/plan.js';
import type { Playbook } from '../../../src/playbook/load.js';
import { FakeSession, type ScriptStep } from '../../../src/transport/fake.js';
import { fixtureFacts } from '../facts/fixture.js';

// The execution half of apply's pipeline against a scripted host: the
// events it emits, what it does on a stop or a failure, and what it says
// when a stage, planning again from fresh facts, does other than was shown.

function inventory(): Inventory {
  const r = parseInventory(readFileSync(join(packageRoot, 'examples', 'hosts.yaml'), 'utf8'), 'hosts.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.inventory;
}

const inv = inventory();
const lb1 = inv.lbs[0]!;

/** Two stages on lb1 alone and no gate: what is under test is the pipeline, not the VIP's order. */
function playbook(...stages: [string, string[]][]): Playbook {
  return { name: 'test', stages: stages.map(([name, tasks]) => ({ name, tasks, on: 'lb' })) };
}

/** Runs `book` on lb1 from `facts`; `onEvent` may act on events (a stop at a progress line). */
async function run(book: Playbook, facts: HostFacts, script: ScriptStep[], onEvent: (e: ApplyEvent, stop: () => void) => void = () => undefined, order: 'strict' | 'any' = 'strict') {
  const session = new FakeSession('lb1', script, { order });
  const tasks = book.stages.flatMap((s) => s.tasks ?? []);
  const plans = [planHost(inv, lb1, facts, tasks)];
  const events: ApplyEvent[] = [];
  let stop = () => undefined as void;
  let listening = false;
  const result = carryOut(
    {
      scope: new Set(['lb1']),
      listenForStop: (s) => {
        stop = s;
        listening = true;
        return () => (listening = false);
      },
      emit: (e) => {
        events.push(e);
        onEvent(e, stop);
      },
    },
    { inv, sessions: new Map([['lb1', session]]), facts: new Map([['lb1', facts]]), playbook: book, plans },
  );
  return { result, events, session, plans, stillListening: () => listening };
}

/**
 * A fresh Debian 12 as the probe reads it now. The recording predates
 * apiservers.seen (a fresh host has none), the release script and the ARP
 * settings: what the probe now also asks, as a fresh host answers.
 */
const DEBIAN_NOW = `${readFileSync(join(packageRoot, 'test', 'unit', 'facts', 'fixtures', 'debian-12.txt'), 'utf8')}\n@@kha:file /var/lib/kha/apiservers.seen@@\nmissing\n@@kha:file /etc/keepalived/kha-release-connections.sh@@\nmissing\n@@kha:sysctl net.ipv4.conf.all.arp_ignore@@\nvalue 0\n@@kha:sysctl net.ipv4.conf.all.arp_announce@@\nvalue 0\n@@kha:file /etc/systemd/system/haproxy.service.d/kha-release.conf@@\nmissing\n`;

const kinds = (events: readonly ApplyEvent[]) => events.map((e) => (e.kind === 'stage-started' || e.kind === 'progress' ? `${e.kind}: ${'title' in e ? e.title : e.text}` : e.kind));

describe('carrying out the plan', () => {
  it('emits each stage and its progress, and ends applied with the count of changes', async () => {
    // Ubuntu 22.04: /var/lib/kha missing, haproxy running on its own configuration, keepalived not installed.
    const facts = fixtureFacts('ubuntu-22.04', 'lb1');
    const r = await run(playbook(['prepare', ['directories']]), facts, [{ command: /^install -d -m 755 -o root -g root \/var\/lib\/kha$/ }]);
    const outcome = await r.result;
    expect(kinds(r.events)).toEqual(['stage-started: prepare', 'progress: lb1: create directory /var/lib/kha (root:root 755)', 'stage-finished']);
    expect(outcome).toMatchObject({ kind: 'applied', changed: new Map([['lb1', 1]]), endpoint: undefined, ok: true });
    expect(r.stillListening()).toBe(false);
    r.session.assertDone();
  });

  it('says when a stage, planning again from the host as it is then, does other than the plan shown', async () => {
    // Shown from Ubuntu 22.04's facts (haproxy running: reload it); by the
    // services stage the host reads as Debian 12 (haproxy not running: start it).
    const facts = fixtureFacts('ubuntu-22.04', 'lb1');
    const r = await run(playbook(['prepare', ['directories']], ['start the services', ['services']]), facts, [
      { command: /^install -d / },
      { command: probeCommand(probeRequest(inv)), result: { stdout: DEBIAN_NOW } },
      { command: 'systemctl enable --no-reload --quiet haproxy' },
      { command: /^systemctl restart haproxy / },
      { command: 'systemctl enable --no-reload --quiet keepalived' },
      { command: /^systemctl restart keepalived / },
    ]);
    const outcome = await r.result;
    r.session.assertDone();
    expect(r.events.filter((e) => e.kind === 'plan-changed')).toEqual([
      // Reloading became starting: the same intent, not said; enabling at boot is new.
      { kind: 'plan-changed', host: 'lb1', added: ['enable haproxy at boot'], dropped: [] },
    ]);
    expect(outcome).toMatchObject({ kind: 'applied', changed: new Map([['lb1', 5]]) });
  });

  it('says nothing when what ran is what was shown', async () => {
    const facts = fixtureFacts('ubuntu-22.04', 'lb1');
    const r = await run(playbook(['start the services', ['services']]), facts, [
      { command: /systemctl reload haproxy/ },
      { command: 'systemctl enable --no-reload --quiet keepalived' },
      { command: /^systemctl restart keepalived / },
    ]);
    await r.result;
    expect(r.events.some((e) => e.kind === 'plan-changed')).toBe(false);
  });

  it('a stop finishes the change under way, puts back what was written and not loaded, and ends interrupted', async () => {
    const facts = fixtureFacts('ubuntu-22.04', 'lb1');
    const r = await run(
      playbook(['prepare', ['files']]),
      facts,
      [
        { command: 'mkdir -p /etc/keepalived' },
        { command: /bash -n/ },
        { command: /mv -f \/etc\/keepalived\/\.kha-new\.kha-check-haproxy\.sh \/etc\/keepalived\/kha-check-haproxy\.sh$/ },
        { command: 'rm -f /etc/keepalived/kha-check-haproxy.sh' },
      ],
      (e, stop) => {
        if (e.kind === 'progress') stop();
      },
    );
    const outcome = await r.result;
    r.session.assertDone();
    expect(outcome).toEqual({ kind: 'interrupted', host: 'lb1', after: 'create /etc/keepalived/kha-check-haproxy.sh (0755)' });
    expect(r.events.filter((e) => e.kind === 'put-back')).toEqual([{ kind: 'put-back', host: 'lb1', paths: ['/etc/keepalived/kha-check-haproxy.sh'] }]);
    expect(r.events.map((e) => e.kind)).not.toContain('stage-finished');
    expect(r.stillListening()).toBe(false);
  });

  it('a stop after a host passed its gate leaves what that gate confirmed: nothing of it is put back', async () => {
    const facts = fixtureFacts('ubuntu-22.04', 'lb1');
    const book: Playbook = {
      name: 'test',
      stages: [
        { name: 'prepare', tasks: ['files'], on: 'lb', then: 'holds-vip' },
        { name: 'start', tasks: ['services'], on: 'lb' },
      ],
    };
    const r = await run(
      book,
      facts,
      // The next stage reads the host again; every other command (the files written and checked, the gate's wait for the VIP) succeeds.
      [{ command: probeCommand(probeRequest(inv)), result: { stdout: DEBIAN_NOW } }, ...Array.from({ length: 80 }, () => ({ command: /./ }))],
      (e, stop) => {
        if (e.kind === 'stage-started' && e.title === 'start') stop();
      },
      'any',
    );
    const outcome = await r.result;
    expect(outcome.kind).toBe('interrupted');
    expect(r.session.commands().some((c) => c.startsWith('for i in $(seq 1 200)'))).toBe(true);
    expect(r.events.filter((e) => e.kind === 'put-back')).toEqual([]);
  });

  it('a failure: the stage is said to have failed, then the error is thrown', async () => {
    const facts = fixtureFacts('ubuntu-22.04', 'lb1');
    const r = await run(playbook(['start the services', ['services']]), facts, [
      { command: /systemctl reload haproxy/, result: { code: 1, stderr: 'no' } },
      { command: /^journalctl -u haproxy/ },
    ]);
    await expect(r.result).rejects.toThrow(HostError);
    expect(r.events.map((e) => e.kind)).toEqual(['stage-started', 'progress', 'stage-failed']);
    expect(r.stillListening()).toBe(false);
  });
});
