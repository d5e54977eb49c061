import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Master } from '../../../src/inventory/model.js';
import { DRILL_CONFIGMAP, REAL_WATCH_PATH, startWatchWriter } from '../../../src/drill/watch-writer.js';

// The writer behind verify-failover --kubeconfig: a `kubectl proxy` per
// master, kha's ConfigMap created on each, patched every 100 ms, deleted at
// the end; credentials that may not are said in the apiserver's words. A
// Node script stands in for kubectl here: its `proxy` answers as an
// apiserver behind kubectl proxy would, and logs each request.

function fakeKubectl(answerCreate: { status: number; body: object }, failsFor = ''): { bin: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kha-fake-proxy-'));
  const bin = join(dir, 'kubectl');
  const log = join(dir, 'requests');
  writeFileSync(
    bin,
    `#!${process.execPath}
const http = require('node:http');
const fs = require('node:fs');
const server = process.argv[process.argv.indexOf('--server') + 1];
if (${JSON.stringify(failsFor)} && server.includes(${JSON.stringify(failsFor)})) { console.error('error: dial tcp ' + server + ': connect: no route to host'); process.exit(1); }
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ server, method: req.method, url: req.url, type: req.headers['content-type'] || '', body }) + '\\n');
    const create = ${JSON.stringify(answerCreate)};
    const [status, out] = req.method === 'POST' ? [create.status, create.body] : [200, {}];
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(out));
  });
}).listen(0, '127.0.0.1', function () { console.log('Starting to serve on 127.0.0.1:' + this.address().port); });
`,
  );
  chmodSync(bin, 0o755);
  return { bin, log };
}

const masters: Master[] = ['m1', 'm2'].map((name, i) => ({ name, address: `10.77.0.2${i + 1}`, apiserverPort: 6443, ssh: {} as Master['ssh'] }));
const requests = (log: string) => readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { server: string; method: string; url: string; type: string; body: string });

describe('the real watch\'s writer', () => {
  it('creates the ConfigMap on every master directly, patches it every 100 ms, and deletes it at the end', async () => {
    const { bin, log } = fakeKubectl({ status: 201, body: {} });
    const writer = await startWatchWriter(bin, '/dev/null', masters);
    await new Promise((r) => setTimeout(r, 650));
    await writer.stop();
    const seen = requests(log);
    expect(new Set(seen.map((r) => r.server))).toEqual(new Set(['https://10.77.0.21:6443', 'https://10.77.0.22:6443']));
    const posts = seen.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(2);
    expect(JSON.parse(posts[0]!.body)).toMatchObject({ kind: 'ConfigMap', metadata: { name: DRILL_CONFIGMAP, namespace: 'default' } });
    const patches = seen.filter((r) => r.method === 'PATCH' && r.server === 'https://10.77.0.21:6443');
    expect(patches.length).toBeGreaterThanOrEqual(4);
    expect(patches[0]).toMatchObject({ url: `/api/v1/namespaces/default/configmaps/${DRILL_CONFIGMAP}`, type: 'application/merge-patch+json', body: '{"data":{"seq":"1"}}' });
    expect(seen.filter((r) => r.method === 'DELETE')).toHaveLength(2);
    expect(seen.at(-1)!.method).toBe('DELETE');
    expect([writer.writing, writer.unreached]).toEqual([['m1', 'm2'], []]);
  });

  it('a master whose proxy does not start is named with why, and the others are written to', async () => {
    const { bin, log } = fakeKubectl({ status: 201, body: {} }, '10.77.0.22');
    const writer = await startWatchWriter(bin, '/dev/null', masters);
    await writer.stop();
    expect(writer.writing).toEqual(['m1']);
    expect(writer.unreached).toEqual([{ master: 'm2', why: 'kubectl proxy to m2 exited 1: error: dial tcp https://10.77.0.22:6443: connect: no route to host' }]);
    expect(new Set(requests(log).map((r) => r.server))).toEqual(new Set(['https://10.77.0.21:6443']));
  });

  it('a ConfigMap left by an earlier run is taken as it is (409)', async () => {
    const { bin } = fakeKubectl({ status: 409, body: { kind: 'Status', reason: 'AlreadyExists', code: 409 } });
    const writer = await startWatchWriter(bin, '/dev/null', masters);
    await writer.stop();
  });

  it("credentials that may not create it: refused in the apiserver's own words, and nothing left running", async () => {
    const message = 'configmaps is forbidden: User "ops" cannot create resource "configmaps" in API group "" in the namespace "default"';
    const { bin } = fakeKubectl({ status: 403, body: { kind: 'Status', status: 'Failure', message, reason: 'Forbidden', code: 403 } });
    await expect(startWatchWriter(bin, '/dev/null', masters)).rejects.toThrow(message);
  });

  it('watches only its own ConfigMap', () => {
    expect(REAL_WATCH_PATH).toBe(`/api/v1/namespaces/default/configmaps?watch=1&fieldSelector=metadata.name%3D${DRILL_CONFIGMAP}`);
  });
});
