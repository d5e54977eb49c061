import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/model.js';
import { packageRoot } from '../../../src/paths.js';
import { renderAll, renderSpec, type RenderedHost } from '../../../src/render/render.js';
import { assertSingleLine } from '../../../src/render/context.js';
import { KEEPALIVED_VALIDATE, HAPROXY_VALIDATE, NGINX_VALIDATE, validateCommand } from '../../../src/render/validators.js';
import { writeRendered } from '../../../src/render/write.js';

// Goldens pin every byte kha writes; UPDATE_GOLDEN=1 rewrites them after a
// deliberate change (then read the diff). The real validators prove the
// files are accepted by the daemons that will read them.

const here = dirname(new URL(import.meta.url).pathname);
const goldenDir = join(here, 'golden');
const env = { KHA_TEST_VRRP_PASS: 'vrrp-pw1' };

const cases: Record<string, string> = {
  example: join(packageRoot, 'examples', 'hosts.yaml'),
  'v2-auth': join(here, 'cases', 'v2-auth.yaml'),
  colocated: join(here, 'cases', 'colocated.yaml'),
  'static-pods': join(packageRoot, 'examples', 'static-pods.yaml'),
  'node-proxy': join(packageRoot, 'examples', 'node-proxy.yaml'),
  'node-proxy-nginx': join(here, 'cases', 'node-proxy-nginx.yaml'),
};

function load(file: string): Inventory {
  const result = parseInventory(readFileSync(file, 'utf8'), file, env);
  if (!result.ok) throw new Error(JSON.stringify(result.problems, null, 2));
  return result.inventory;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

function renderedFiles(hosts: RenderedHost[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const h of hosts) for (const f of h.files) map.set(join(h.host, f.path.slice(1)), f.content);
  return map;
}

describe.each(Object.entries(cases))('render %s', (name, file) => {
  const inv = load(file);
  const hosts = renderAll(inv);
  const files = renderedFiles(hosts);

  it('matches the golden files byte for byte', () => {
    const dir = join(goldenDir, name);
    if (process.env.UPDATE_GOLDEN) {
      rmSync(dir, { recursive: true, force: true });
      for (const [path, content] of files) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), content);
      }
    }
    expect(filesUnder(dir)).toEqual([...files.keys()].sort());
    for (const [path, content] of files) expect(content, path).toBe(readFileSync(join(dir, path), 'utf8'));
  });

  it('is deterministic: a second render of a fresh load is identical', () => {
    expect(renderedFiles(renderAll(load(file)))).toEqual(files);
  });

  it('writes every file with its real mode, keepalived.conf 0600', async () => {
    const out = mkdtempSync(join(tmpdir(), 'kha-render-'));
    try {
      await writeRendered(out, hosts);
      for (const h of hosts) {
        for (const f of h.files) {
          const st = statSync(join(out, h.host, f.path));
          expect((st.mode & 0o777).toString(8), f.path).toBe(f.mode.toString(8));
        }
        const conf = h.files.find((f) => f.path === '/etc/keepalived/keepalived.conf');
        if (conf) expect(conf.mode).toBe(0o600);
      }
      // Rendering again over a copy someone made readable: the secret goes into a new 0600 file, not into that one.
      const first = hosts.find((h) => h.files.length > 0)!;
      const conf = join(out, first.host, '/etc/keepalived/keepalived.conf');
      chmodSync(conf, 0o644);
      linkSync(conf, `${conf}.held-open`);
      writeFileSync(conf, 'old\n');
      await writeRendered(out, hosts);
      expect((statSync(conf).mode & 0o777).toString(8)).toBe('600');
      expect(readFileSync(`${conf}.held-open`, 'utf8')).toBe('old\n');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('passes the real validators: haproxy -c and keepalived -t', () => {
    for (const tool of ['haproxy', 'keepalived', 'unshare']) {
      expect(spawnSync('sh', ['-c', `command -v ${tool}`]).status, `${tool} is missing: apt-get install haproxy keepalived util-linux`).toBe(0);
    }
    const ifaces = [...new Set(inv.lbs.map((lb) => lb.interface!))];
    for (const h of hosts) {
      if (!h.files.some((f) => f.spec.id === 'keepalived.conf')) continue;
      const dir = mkdtempSync(join(tmpdir(), `kha-validate-${h.host}-`));
      try {
        const byId = (id: string) => h.files.find((f) => f.spec.id === id)!;
        writeFileSync(join(dir, 'haproxy.cfg'), byId('haproxy.cfg').content);
        writeFileSync(join(dir, 'keepalived.conf'), byId('keepalived.conf').content, { mode: 0o600 });
        writeFileSync(join(dir, 'check.sh'), byId('check-haproxy').content, { mode: 0o755 });
        // keepalived checks that the interfaces and the check script exist, so the
        // test gives it both in namespaces of its own: an interface per name
        // (veth: this kernel has no dummy module) and a private /etc/keepalived. Nothing on this machine is touched.
        const script = [
          ...ifaces.map((i, n) => `ip link add ${i} type veth peer name kha-peer${n}`),
          `mount -t tmpfs -o mode=755 tmpfs /etc/keepalived`,
          `install -m 0755 ${dir}/check.sh /etc/keepalived/kha-check-haproxy.sh`,
          `bash -n /etc/keepalived/kha-check-haproxy.sh || exit 21`,
          `${validateCommand(HAPROXY_VALIDATE, `${dir}/haproxy.cfg`)} || exit 22`,
          `( ${validateCommand(KEEPALIVED_VALIDATE, `${dir}/keepalived.conf`)} ) || exit 23`,
        ].join('\n');
        const r = spawnSync('unshare', ['--mount', '--net', 'sh', '-ec', script], { encoding: 'utf8' });
        expect(r.status, `${h.host}: ${r.stdout}${r.stderr}`).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});

describe.each(['node-proxy', 'node-proxy-nginx'])('render %s: the local proxy', (name) => {
  const inv = load(cases[name]!);
  const hosts = renderAll(inv);
  const software = inv.nodeProxy!.software;
  const config = software === 'haproxy' ? 'node-proxy-haproxy.cfg' : 'node-proxy-nginx.conf';

  it(`passes the real validator: ${software === 'haproxy' ? 'haproxy -c' : 'nginx -t'}`, () => {
    expect(spawnSync('sh', ['-c', `command -v ${software}`]).status, `${software} is missing: apt-get install ${software === 'haproxy' ? 'haproxy' : 'nginx libnginx-mod-stream'}`).toBe(0);
    const proxied = hosts.filter((h) => h.files.some((f) => f.spec.id === config));
    expect(proxied.length).toBeGreaterThan(0);
    for (const h of proxied) {
      const dir = mkdtempSync(join(tmpdir(), `kha-validate-${h.host}-`));
      try {
        writeFileSync(join(dir, 'proxy.conf'), h.files.find((f) => f.spec.id === config)!.content);
        const validator = software === 'haproxy' ? HAPROXY_VALIDATE : NGINX_VALIDATE;
        // nginx -t opens its pid file under /run: a private /run, so nothing on this machine is touched.
        const script = `mount -t tmpfs tmpfs /run\n${validateCommand(validator, `${dir}/proxy.conf`)}`;
        const r = spawnSync('unshare', ['--mount', 'sh', '-ec', script], { encoding: 'utf8' });
        expect(r.status, `${h.host}: ${r.stdout}${r.stderr}`).toBe(0);
        // And the validator refuses what is broken: it is not a pass-through.
        writeFileSync(join(dir, 'proxy.conf'), h.files.find((f) => f.spec.id === config)!.content.replace(/\n(\s*)server /, '\n$1serverx '));
        expect(spawnSync('unshare', ['--mount', 'sh', '-ec', script], { encoding: 'utf8' }).status).not.toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('gives each host the files of every role it has, the proxy\'s in its own directory and unit', () => {
    const byHost = Object.fromEntries(hosts.map((h) => [h.host, h.files.map((f) => f.path)]));
    const proxyFiles = [`/etc/kha/node-proxy/${software === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf'}`, '/etc/systemd/system/kha-node-proxy.service'];
    const lbFiles = [
      '/etc/keepalived/kha-check-haproxy.sh',
      '/etc/keepalived/kha-release-connections.sh',
      '/etc/keepalived/keepalived.conf',
      '/etc/haproxy/haproxy.cfg',
      '/etc/sysctl.d/90-kha.conf',
      '/etc/systemd/system/keepalived.service.d/kha-restart.conf',
      '/etc/systemd/system/haproxy.service.d/kha-release.conf',
    ];
    expect(byHost.lb1).toEqual(lbFiles);
    for (const n of inv.nodes) expect(byHost[n.name], n.name).toEqual(n.name === 'lb2' ? [...lbFiles, ...proxyFiles] : proxyFiles);
    for (const m of inv.masters) expect(byHost[m.name], m.name).toEqual(inv.nodeProxy!.masters ? proxyFiles : []);
    // One entry per host, in file order, a host in two lists once.
    expect(hosts.map((h) => h.host)).toEqual([...new Set([...inv.lbs, ...inv.masters, ...inv.nodes].map((h) => h.name))]);
  });

  it('listens on 127.0.0.1 only, on the port and health port hosts.yaml gives, to every apiserver', () => {
    const np = inv.nodeProxy!;
    const text = hosts.find((h) => h.host === inv.nodes[inv.nodes.length - 1]!.name)!.files.find((f) => f.spec.id === config)!.content;
    const listens = [...text.matchAll(/^\s*(?:bind|listen) (\S+?);?$/gm)].map((m) => m[1]);
    expect(listens.sort()).toEqual([`127.0.0.1:${np.healthPort}`, `127.0.0.1:${np.port}`].sort());
    for (const m of inv.masters) expect(text).toContain(`${m.address}:${m.apiserverPort}`);
  });
});

describe('keepalived validator', () => {
  // The workaround for keepalived 2.2.7's self-kill must not turn real errors into passes.
  it.each([
    ['an unknown keyword', (c: string) => c.replace('advert_int', 'advert_intt')],
    ['an authentication block under VRRPv3', (c: string) => c.replace('    virtual_ipaddress {', '    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n    virtual_ipaddress {')],
    ['a priority out of range', (c: string) => c.replace(/\n {4}priority \d+/, '\n    priority 300')],
    ['a missing interface', (c: string) => c.replaceAll('dev eth0', 'dev nosuch0').replace('interface eth0', 'interface nosuch0')],
  ])('rejects %s', (_what, breakIt) => {
    const inv = load(cases.example!);
    const files = renderAll(inv)[0]!.files;
    const conf = breakIt(files.find((f) => f.spec.id === 'keepalived.conf')!.content);
    const dir = mkdtempSync(join(tmpdir(), 'kha-validate-bad-'));
    try {
      writeFileSync(join(dir, 'keepalived.conf'), conf, { mode: 0o600 });
      writeFileSync(join(dir, 'check.sh'), files.find((f) => f.spec.id === 'check-haproxy')!.content, { mode: 0o755 });
      const script = [
        'ip link add eth0 type veth peer name kha-peer0',
        'mount -t tmpfs -o mode=755 tmpfs /etc/keepalived',
        `install -m 0755 ${dir}/check.sh /etc/keepalived/kha-check-haproxy.sh`,
        validateCommand(KEEPALIVED_VALIDATE, `${dir}/keepalived.conf`),
      ].join('\n');
      const r = spawnSync('unshare', ['--mount', '--net', 'sh', '-c', script], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr.length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('template safety', () => {
  it('refuses a value with a line break before rendering', () => {
    expect(() => assertSingleLine({ a: { b: ['ok', 'two\nlines'] } }, 'ctx')).toThrow(/ctx\.a\.b\[1\] contains a line break/);
  });

  it('refuses <%= in a template, which would HTML-escape configuration', () => {
    const dir = mkdtempSync(join(packageRoot, 'templates', '.test-'));
    const name = `${relative(join(packageRoot, 'templates'), dir)}/bad.ejs`;
    try {
      writeFileSync(join(dir, 'bad.ejs'), 'x <%= o.v %>\n');
      expect(() =>
        renderSpec({ id: 'bad', template: name, path: '/x', mode: 0o644, service: 'haproxy' }, { v: 'a<b' }),
      ).toThrow(/use <%- for output/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the VRRP password out of everything but keepalived.conf', () => {
    const inv = load(cases['v2-auth']!);
    for (const h of renderAll(inv)) {
      for (const f of h.files) {
        const has = f.content.includes(env.KHA_TEST_VRRP_PASS);
        expect(has, f.path).toBe(f.path === '/etc/keepalived/keepalived.conf');
      }
    }
    expect(JSON.stringify(inv)).not.toContain(env.KHA_TEST_VRRP_PASS);
    expect(String(inv.keepalived.authPass)).toBe('<redacted>');
  });

  it('needs an interface to render offline, and says where to set it', () => {
    const text = readFileSync(cases.example!, 'utf8').replace(/\n    interface: eth0/g, '');
    const result = parseInventory(text, 'hosts.yaml', env);
    if (!result.ok) throw new Error('fixture should be valid');
    expect(() => renderAll(result.inventory)).toThrow(/lb1, lb2: no interface in hosts\.yaml.*set lb\[\]\.interface/);
  });
});

describe('kha render CLI', () => {
  it('writes the tree and lists it', () => {
    const out = mkdtempSync(join(tmpdir(), 'kha-render-cli-'));
    try {
      const r = execFileSync('node', [join(packageRoot, 'bin', 'kha.js'), 'render', cases.example!, '--out', out, '--json'], { encoding: 'utf8' });
      const result = JSON.parse(r) as { ok: boolean; hosts: { host: string; files: { path: string; mode: string }[] }[] };
      expect(result.ok).toBe(true);
      expect(result.hosts.map((h) => h.host)).toEqual(['lb1', 'lb2', 'm1', 'm2', 'm3']);
      expect(result.hosts[0]!.files.find((f) => f.path === '/etc/keepalived/keepalived.conf')!.mode).toBe('0600');
      expect(existsSync(join(out, 'lb2', 'etc', 'haproxy', 'haproxy.cfg'))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
