import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseInventory } from '../../src/inventory/load.js';
import { hostsYaml } from '../../src/lab/hostsfile.js';
import { upstreamVersion } from '../../src/lab/images.js';
import { labFiles, planMachines } from '../../src/lab/state.js';
import { packageRoot } from '../../src/paths.js';
import { topologyOf } from '../../src/topology/of.js';
import { haproxyPod, keepalivedPod, manifestContext, manifestText } from '../../src/topology/static-pods/manifests.js';

// `kha lab up --static-pods` without machines: the hosts.yaml it writes, the
// image tags, and what the kubelet stand-in plays of kha's real manifests.

const images = { store: '/x', keepalivedImage: 'localhost/kha-lab/keepalived:2.2.7', haproxyImage: 'localhost/kha-lab/haproxy:2.6.12' };
const text = hostsYaml(labFiles({ lab: '/var/lib/kha/lab', cache: '/c' }), planMachines({ lbs: 0, masters: 3, workers: 0 }), '10.77.0.10', true, images);
const parsed = parseInventory(text, 'hosts.yaml', {});
if (!parsed.ok) throw new Error('the lab hosts.yaml is invalid');
const inv = parsed.inventory;

/** The stand-in's own function, run by bash on a file. */
function strip(manifest: string): string {
  const script = readFileSync(join(packageRoot, 'templates', 'lab', 'kubelet'), 'utf8');
  const fn = /^strip_unhonoured\(\) \{[\s\S]*?^\}$/m.exec(script)?.[0];
  if (!fn) throw new Error('no strip_unhonoured in templates/lab/kubelet');
  const r = spawnSync('bash', ['-c', `${fn}\nstrip_unhonoured /dev/stdin`], { input: manifest, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}

describe('lab up --static-pods: hosts.yaml', () => {
  it('is the static-pods topology on the three masters, with the lab images and the VIP on 8443', () => {
    expect(topologyOf(inv).name).toBe('static-pods');
    expect(inv.staticPods).toEqual({ keepalivedImage: images.keepalivedImage, haproxyImage: images.haproxyImage, manifestsDir: '/etc/kubernetes/manifests' });
    expect(inv.lbs.map((l) => l.name)).toEqual(['m1', 'm2', 'm3']);
    expect(inv.port).toBe(8443);
  });

  it("tags images with the package's upstream version", () => {
    expect(upstreamVersion('1:2.2.7-1+b2')).toBe('2.2.7');
    expect(upstreamVersion('2.6.12-1+deb12u3')).toBe('2.6.12');
  });
});

describe('the kubelet stand-in plays kha manifests minus what podman cannot honour', () => {
  const sp = inv.staticPods!;
  for (const pod of [keepalivedPod(sp, 'a'.repeat(32)), haproxyPod(inv, sp, 'a'.repeat(32))]) {
    it(`${pod.metadata!.name}: no resources, the rest (the config-hash annotation included) unchanged, the removal noted`, () => {
      const manifest = manifestText(manifestContext(inv.lbs[0]!, ['about'], pod));
      const out = strip(manifest);
      const expected = structuredClone(pod);
      for (const c of expected.spec!.containers) delete c.resources;
      expect(parse(out)).toEqual(JSON.parse(JSON.stringify(expected)));
      expect(out).toContain('# kha-lab-kubelet: resources removed');
    });
  }
});
