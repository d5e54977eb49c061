import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { apiserverPortCut, DRILLS, type DrillContext } from '../../../src/drill/drills.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { packageRoot } from '../../../src/paths.js';
import { ON_MASTERS } from '../../../src/topology/on-masters.js';
import { DEDICATED } from '../../../src/topology/dedicated/index.js';
import { topologyOf } from '../../../src/topology/of.js';
import { LocalSession } from '../local-session.js';

const file = join(packageRoot, 'examples', 'colocated.yaml');
const parsed = parseInventory(readFileSync(file, 'utf8'), file, {});
if (!parsed.ok) throw new Error('examples/colocated.yaml is invalid');
const inv = parsed.inventory;

function ctxFor(holder: string, master: string): DrillContext {
  return {
    inv,
    holder: inv.lbs.find((lb) => lb.name === holder)!,
    master: inv.masters.find((m) => m.name === master)!,
    partitionSeconds: 6,
  } as DrillContext;
}

describe('drills on the masters', () => {
  it('are the same drills as on load balancers, two of them injected differently', () => {
    expect(topologyOf(inv)).toBe(ON_MASTERS);
    expect(ON_MASTERS.drills.map((d) => d.name)).toEqual(DRILLS.map((d) => d.name));
    const changed = ON_MASTERS.drills.filter((d, i) => d !== DRILLS[i]).map((d) => d.name);
    expect(changed).toEqual(['backend-down', 'partition']);
  });

  it('backend-down refuses the apiserver port on the master itself, not routes on the others', () => {
    const backend = ON_MASTERS.drills.find((d) => d.name === 'backend-down')!;
    const faults = backend.faults(ctxFor('cp1', 'cp3'));
    expect(faults.map((f) => f.host)).toEqual(['cp3']);
    expect(faults[0]!.heal).toContain('--dport 6443');
    expect(faults[0]!.heal).not.toContain('ip route');
    expect(backend.title(ctxFor('cp1', 'cp3'))).toBe("refuse cp3's apiserver port 6443 on cp3 (VRRP and etcd between the masters untouched)");
    // On dedicated load balancers the cut is a route on each of them.
    const dedicated = DEDICATED.drills.find((d) => d.name === 'backend-down')!;
    expect(dedicated.faults(ctxFor('cp1', 'cp3')).map((f) => f.host)).toEqual(['cp1', 'cp2', 'cp3']);
  });

  it('partition says what it cannot show on masters, and nothing on load balancers', () => {
    const onMasters = ON_MASTERS.drills.find((d) => d.name === 'partition')!;
    expect(onMasters.caveat?.(ctxFor('cp2', 'cp3'))).toMatch(/^cp2 is also an etcd member; .* not etcd$/);
    expect(DEDICATED.drills.find((d) => d.name === 'partition')!.caveat).toBeUndefined();
  });
});

describe("the apiserver port cut, run against a stand-in iptables", () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A shell whose PATH has an iptables that keeps its INPUT rules in a file: -I adds, -D removes one, -C checks. */
  function shellWithIptables(present: boolean): { session: LocalSession; rules: () => string[]; prefix: string } {
    dir = mkdtempSync(join(tmpdir(), 'kha-iptables-'));
    const rules = join(dir, 'rules');
    writeFileSync(rules, '');
    if (present) {
      writeFileSync(
        join(dir, 'iptables'),
        `#!/bin/sh
[ "$1" = -w ] && shift
op=$1; shift
rule="$*"
case $op in
  -I) echo "$rule" >> ${rules} ;;
  -D) grep -qxF -- "$rule" ${rules} || exit 1; awk -v r="$rule" 'done || $0 != r { print; next } { done = 1 }' ${rules} > ${rules}.new && mv ${rules}.new ${rules} ;;
  -C) grep -qxF -- "$rule" ${rules} ;;
esac
`,
      );
      chmodSync(join(dir, 'iptables'), 0o755);
    }
    return {
      session: new LocalSession(),
      rules: () => readFileSync(rules, 'utf8').split('\n').filter(Boolean),
      prefix: `PATH=${dir}:/usr/bin:/bin; `,
    };
  }

  it('cut twice, healed once: every copy of the rule is gone and healed says so', async () => {
    const cut = apiserverPortCut(inv.masters[2]!);
    const { session, rules, prefix } = shellWithIptables(true);
    expect((await session.exec(prefix + cut.cut)).code).toBe(0);
    expect((await session.exec(prefix + cut.cut)).code).toBe(0);
    expect(rules()).toEqual(Array(2).fill('INPUT -p tcp --dport 6443 --syn -m comment --comment kha-drill -j REJECT --reject-with tcp-reset'));
    expect((await session.exec(prefix + cut.healed)).code).not.toBe(0);
    expect((await session.exec(prefix + cut.heal)).code).toBe(0);
    expect(rules()).toEqual([]);
    expect((await session.exec(prefix + cut.healed)).code).toBe(0);
  });

  it('without iptables the cut fails saying why, and the heal and its check find the host whole', async () => {
    const cut = apiserverPortCut(inv.masters[2]!);
    const { session, prefix } = shellWithIptables(false);
    const r = await session.exec(prefix + cut.cut);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('iptables not found');
    expect((await session.exec(prefix + cut.heal)).code).toBe(0);
    expect((await session.exec(prefix + cut.healed)).code).toBe(0);
  });
});
