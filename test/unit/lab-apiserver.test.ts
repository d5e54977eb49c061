import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The lab's kube-apiserver stand-in (templates/lab/apiserver.py) on loopback
// with a throwaway certificate: HTTP/2 for a client that asks for it by ALPN
// (client-go's PING health check runs only there), HTTP/1.1 exactly as before
// for every other client (haproxy's checks, the drills' streams); on both, the
// small ConfigMap API that lets a drill hold a real Kubernetes watch.

const SCRIPT = join(import.meta.dirname, '../../templates/lab/apiserver.py');
// The lab machines run Debian's python with python3-h2; another python first on PATH may lack it.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hasH2 = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import h2.connection'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const H2_SKIPPED = hasH2 ? '' : ` (skipped: ${PYTHON} cannot import h2; apt-get install python3-h2, or run scripts/setup-host.sh)`;

interface StandIn {
  port: number;
  proc: ChildProcess;
  stdout: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dir = '';
const running: StandIn[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** `withoutH2`: the stand-in as on a machine without python3-h2 (its import fails). */
async function startStandIn(name: string, withoutH2 = false): Promise<StandIn> {
  const port = await freePort();
  const args = ['--name', name, '--cert', join(dir, 'c'), '--key', join(dir, 'k'), '--port', String(port), '--bind', '127.0.0.1'];
  const argv = withoutH2
    ? ['-c', `import runpy, sys; sys.modules['h2'] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')`, SCRIPT, ...args]
    : [SCRIPT, ...args];
  const proc = spawn(PYTHON, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const s: StandIn = { port, proc, stdout: '' };
  running.push(s);
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => {
      s.stdout += d.toString();
      if (s.stdout.includes(' on 127.0.0.1:')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`the stand-in exited (${code}): ${stderr}`)));
  });
  return s;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kha-apiserver-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k'), '-out', join(dir, 'c'), '-subj', '/CN=kha-test', '-days', '1'], { stdio: 'ignore' });
});

afterAll(() => {
  for (const s of running) s.proc.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** One HTTP/1.1 exchange over TLS, no ALPN unless given: what the socket received in `ms`. */
function http1(port: number, request: string, ms: number, alpn?: string[]): Promise<{ alpn: string | false; received: string }> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(alpn ? { ALPNProtocols: alpn } : {}) }, () => {
      tls.write(request);
      setTimeout(() => {
        tls.destroy();
        resolve({ alpn: tls.alpnProtocol ?? false, received });
      }, ms);
    });
    let received = '';
    tls.on('data', (d: Buffer) => (received += d.toString()));
    tls.on('error', reject);
  });
}

function h2session(port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

/** A GET on the session: its headers and the body it delivered within `ms` (or until it ended). */
function h2get(session: ClientHttp2Session, path: string, ms: number): Promise<{ headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path });
    let headers: Record<string, unknown> = {};
    let body = '';
    const timer = setTimeout(() => {
      req.close();
      resolve({ headers, body });
    }, ms);
    req.on('response', (h) => (headers = h));
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      clearTimeout(timer);
      resolve({ headers, body });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end();
  });
}

const events = (body: string) =>
  body
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; object: { seq: number; master: string } });

describe(`the apiserver stand-in over HTTP/2${H2_SKIPPED}`, () => {
  let s: StandIn;
  let session: ClientHttp2Session;
  beforeAll(async () => {
    if (!hasH2) return;
    s = await startStandIn('m1');
    session = await h2session(s.port);
  });
  afterAll(() => session?.close());

  it.skipIf(!hasH2)('is chosen by ALPN, and answers /readyz naming the master', async () => {
    expect(session.alpnProtocol).toBe('h2');
    const r = await h2get(session, '/readyz', 2000);
    expect(r.headers[':status']).toBe(200);
    expect(r.headers['x-kha-lab-master']).toBe('m1');
    expect(r.body).toBe('ok');
  });

  it.skipIf(!hasH2)('streams a watch as events on its stream, one every 100 ms', async () => {
    const r = await h2get(session, '/watch?resourceVersion=0&watch=true', 600);
    expect(r.headers[':status']).toBe(200);
    expect(r.headers['x-kha-lab-master']).toBe('m1');
    const got = events(r.body);
    expect(got.length).toBeGreaterThanOrEqual(5);
    expect(got.map((e) => e.object.seq)).toEqual(got.map((_, i) => i + 1));
    expect(got.every((e) => e.type === 'MODIFIED' && e.object.master === 'm1')).toBe(true);
  });

  it.skipIf(!hasH2)('answers a PING', async () => {
    const ms = await new Promise<number>((resolve, reject) => {
      session.ping((err, duration) => (err ? reject(err) : resolve(duration)));
    });
    expect(ms).toBeLessThan(1000);
  });

  it.skipIf(!hasH2)('serves streams side by side on one connection: /version while two watches flow', async () => {
    const [a, b, v] = await Promise.all([h2get(session, '/watch', 600), h2get(session, '/watch', 600), sleep(200).then(() => h2get(session, '/version', 2000))]);
    expect(events(a.body).length).toBeGreaterThanOrEqual(5);
    expect(events(b.body).length).toBeGreaterThanOrEqual(5);
    expect(v.headers[':status']).toBe(200);
    expect((JSON.parse(v.body) as { khaLabMaster: string }).khaLabMaster).toBe('m1');
    const missing = await h2get(session, '/nope', 2000);
    expect(missing.headers[':status']).toBe(404);
  });
});

describe('the apiserver stand-in over HTTP/1.1, as before', () => {
  let s: StandIn;
  beforeAll(async () => {
    s = await startStandIn('m2');
  });

  it('streams /watch chunked to a client that asks for no protocol', async () => {
    const r = await http1(s.port, 'GET /watch HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n', 450);
    expect(r.alpn).toBe(false);
    const end = r.received.indexOf('\r\n\r\n');
    expect(end).toBeGreaterThan(0);
    const head = r.received.slice(0, end + 2);
    const body = r.received.slice(end + 4);
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/\r\nTransfer-Encoding: chunked\r\n/);
    expect(head).toMatch(/\r\nX-Kha-Lab-Master: m2\r\n/);
    // Each event is a chunk of its own: hex size, the JSON line, CRLF.
    const chunks = [...body.matchAll(/([0-9a-f]+)\r\n(\{[^\n]*\}\n)\r\n/g)];
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    for (const [, size, line] of chunks) expect(parseInt(size!, 16)).toBe(Buffer.byteLength(line!));
    expect(chunks.map(([, , line]) => (JSON.parse(line!) as { object: { seq: number } }).object.seq)).toEqual(chunks.map((_, i) => i + 1));
  });

  it('answers /readyz over HTTP/1.1 to a client that offers only http/1.1', async () => {
    const r = await http1(s.port, 'GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 300, ['http/1.1']);
    expect(r.alpn).toBe('http/1.1');
    expect(r.received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(r.received).toMatch(/\r\n\r\nok$/);
  });

  it('still answers an SSL 3.0 hello (haproxy ssl-hello-chk) with a protocol_version alert', async () => {
    const got = await new Promise<Buffer>((resolve, reject) => {
      const sock = netConnect(s.port, '127.0.0.1', () => sock.write(Buffer.from([0x16, 0x03, 0x00, 0x00, 0x00])));
      // The hello is never read, so the close that follows the alert is a RST: take the alert as it comes.
      let got = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 7) {
          sock.destroy();
          resolve(got);
        }
      });
      sock.on('error', reject);
    });
    expect(got.toString('hex')).toBe('15030100020246');
  });

  it('stopping (SIGTERM), as kube-apiserver drains: refuses new connections, answers the request under way, ends without waiting for a watch', async () => {
    const stopping = await startStandIn('m4');
    const tlsTo = () => tlsConnect({ host: '127.0.0.1', port: stopping.port, rejectUnauthorized: false });
    const watch = tlsTo();
    let watchEnded = false;
    let watched = '';
    watch.on('data', (d: Buffer) => (watched += d.toString()));
    watch.on('close', () => (watchEnded = true));
    watch.on('error', () => undefined);
    watch.once('secureConnect', () => watch.write('GET /watch HTTP/1.1\r\nHost: x\r\n\r\n'));
    // A request whose head is not complete yet when the signal comes.
    const slow = tlsTo();
    let answer = '';
    slow.on('data', (d: Buffer) => (answer += d.toString()));
    await new Promise<void>((r) => slow.once('secureConnect', () => r()));
    slow.write('GET /readyz HTTP/1.1\r\nHost: x\r\n');
    await sleep(200);
    const exited = new Promise<number | null>((r) => stopping.proc.once('exit', (code) => r(code)));
    const t = performance.now();
    stopping.proc.kill('SIGTERM');
    await sleep(200);
    const refused = await new Promise<string>((resolve) => {
      const c = netConnect(stopping.port, '127.0.0.1', () => {
        c.destroy();
        resolve('connected');
      });
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    slow.write('\r\n');
    const slowClosed = new Promise<void>((r) => slow.once('close', () => r()));
    expect(await exited).toBe(0);
    await slowClosed;
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
    // The watch did not hold the stop: one drain limit (1 s) at most, with a margin for a busy machine.
    expect(performance.now() - t).toBeLessThan(3000);
    await sleep(100);
    expect(watched).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*"seq": ?2/);
    expect(watchEnded).toBe(true);
  });

  it('without python3-h2 still runs, says so once, and offers only http/1.1', async () => {
    const bare = await startStandIn('m3', true);
    expect(bare.stdout.match(/no python3-h2/g)).toHaveLength(1);
    const r = await http1(bare.port, 'GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 300, ['h2', 'http/1.1']);
    expect(r.alpn).toBe('http/1.1');
    expect(r.received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});

// The ConfigMap API, the same on both protocols: one client interface, one suite for each.
interface Reply {
  status: number;
  body: string;
}
interface Options {
  token?: string;
  ctype?: string;
  body?: string;
}
interface Event {
  type: string;
  object: { kind: string; metadata: { name: string; resourceVersion: string }; data: Record<string, string> };
}
interface ApiClient {
  req(method: string, path: string, o?: Options): Promise<Reply>;
  /** A watch left open: the events so far, and the status it was answered with. */
  watch(path: string): { events: Event[]; status: () => number; close: () => void };
}

const headersOf = (o: Options): Record<string, string> => ({
  ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
  ...(o.body !== undefined ? { 'content-type': o.ctype ?? 'application/json' } : {}),
});

const linesInto = (events: Event[]) => {
  let rest = '';
  return (d: Buffer) => {
    rest += d.toString();
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const l of lines) if (l) events.push(JSON.parse(l) as Event);
  };
};

function http1Client(port: number): ApiClient {
  const open = (method: string, path: string, o: Options) =>
    httpsRequest({ host: '127.0.0.1', port, method, path, headers: headersOf(o), rejectUnauthorized: false, agent: false });
  return {
    req: (method, path, o = {}) =>
      new Promise((resolve, reject) => {
        const r = open(method, path, o);
        r.on('response', (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        r.on('error', reject);
        r.end(o.body);
      }),
    watch: (path) => {
      const events: Event[] = [];
      let status = 0;
      const r = open('GET', path, {});
      r.on('response', (res) => {
        status = res.statusCode!;
        res.on('data', linesInto(events));
      });
      r.on('error', () => {});
      r.end();
      return { events, status: () => status, close: () => r.destroy() };
    },
  };
}

function http2Client(session: ClientHttp2Session): ApiClient {
  const open = (method: string, path: string, o: Options) => session.request({ ':method': method, ':path': path, ...headersOf(o) });
  return {
    req: (method, path, o = {}) =>
      new Promise((resolve, reject) => {
        const r = open(method, path, o);
        let status = 0;
        let body = '';
        r.on('response', (h) => (status = Number(h[':status'])));
        r.on('data', (d: Buffer) => (body += d.toString()));
        r.on('end', () => resolve({ status, body }));
        r.on('error', reject);
        r.end(o.body);
      }),
    watch: (path) => {
      const events: Event[] = [];
      let status = 0;
      const r = open('GET', path, {});
      r.on('response', (h) => (status = Number(h[':status'])));
      r.on('data', linesInto(events));
      r.on('error', () => {});
      r.end();
      return { events, status: () => status, close: () => r.close() };
    },
  };
}

async function until(what: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !what(); await sleep(20)) if (Date.now() > end) throw new Error('timed out');
}

const CM = '/api/v1/namespaces/default/configmaps';
const mergePatch = (seq: string) => ({ ctype: 'application/merge-patch+json', body: JSON.stringify({ data: { seq } }) });
const parsed = (r: Reply) => JSON.parse(r.body) as Event['object'] & { kind: string; reason?: string; code?: number; message?: string; status?: string };

function configMapSuite(client: () => ApiClient) {
  it('creates a ConfigMap (201), and refuses a second of that name (409 AlreadyExists)', async () => {
    const created = await client().req('POST', CM, { body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kha-drill' }, data: { seq: '0' } }) });
    expect(created.status).toBe(201);
    const cm = parsed(created);
    expect(cm).toMatchObject({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'kha-drill', namespace: 'default' }, data: { seq: '0' } });
    expect(cm.metadata).toHaveProperty('uid');
    expect(cm.metadata).toHaveProperty('creationTimestamp');
    expect(cm.metadata.resourceVersion).toMatch(/^\d+$/);
    const again = await client().req('POST', CM, { body: JSON.stringify({ metadata: { name: 'kha-drill' }, data: {} }) });
    expect(again.status).toBe(409);
    expect(parsed(again)).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'AlreadyExists', code: 409 });
  });

  it('gets it (200), and a missing one as 404 NotFound', async () => {
    const got = await client().req('GET', `${CM}/kha-drill`);
    expect(got.status).toBe(200);
    expect(parsed(got).data).toEqual({ seq: '0' });
    const missing = await client().req('GET', `${CM}/nope`);
    expect(missing.status).toBe(404);
    expect(parsed(missing)).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404, message: 'configmaps "nope" not found' });
  });

  it('lists by field selector, with the list resourceVersion', async () => {
    await client().req('POST', CM, { body: JSON.stringify({ metadata: { name: 'other' }, data: { a: 'b' } }) });
    const r = await client().req('GET', `${CM}?fieldSelector=metadata.name%3Dkha-drill`);
    expect(r.status).toBe(200);
    const list = JSON.parse(r.body) as { kind: string; metadata: { resourceVersion: string }; items: Event['object'][] };
    expect(list.kind).toBe('ConfigMapList');
    expect(list.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(list.items.map((i) => i.metadata.name)).toEqual(['kha-drill']);
  });

  it('streams a watch by field selector: ADDED, then a MODIFIED for each patch (each a new resourceVersion), none for another name, then DELETED', async () => {
    const w = client().watch(`${CM}?watch=1&fieldSelector=metadata.name%3Dkha-drill`);
    try {
      await until(() => w.events.length === 1);
      expect(w.status()).toBe(200);
      expect(w.events[0]).toMatchObject({ type: 'ADDED', object: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'kha-drill' }, data: { seq: '0' } } });
      const before = Number(w.events[0]!.object.metadata.resourceVersion);
      const one = await client().req('PATCH', `${CM}/kha-drill`, mergePatch('1'));
      expect(one.status).toBe(200);
      expect(Number(parsed(one).metadata.resourceVersion)).toBeGreaterThan(before);
      await client().req('PATCH', `${CM}/other`, { ...mergePatch('x'), ctype: 'application/strategic-merge-patch+json' });
      const two = await client().req('PATCH', `${CM}/kha-drill`, { ...mergePatch('2'), ctype: 'application/strategic-merge-patch+json' });
      expect(parsed(two).data).toEqual({ seq: '2' });
      const gone = await client().req('DELETE', `${CM}/kha-drill`);
      expect(gone.status).toBe(200);
      expect(parsed(gone)).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'kha-drill', kind: 'configmaps' } });
      await until(() => w.events.length >= 4);
      await sleep(100);
      expect(w.events.map((e) => [e.type, e.object.metadata.name, e.object.data.seq])).toEqual([
        ['ADDED', 'kha-drill', '0'],
        ['MODIFIED', 'kha-drill', '1'],
        ['MODIFIED', 'kha-drill', '2'],
        ['DELETED', 'kha-drill', '2'],
      ]);
      const versions = w.events.map((e) => Number(e.object.metadata.resourceVersion));
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(new Set(versions).size).toBe(4);
      expect((await client().req('GET', `${CM}/kha-drill`)).status).toBe(404);
    } finally {
      w.close();
    }
  });

  it('resumes a watch from a resourceVersion with the changes since, as a list-then-watch client asks', async () => {
    const list = JSON.parse((await client().req('GET', CM)).body) as { metadata: { resourceVersion: string } };
    await client().req('PATCH', `${CM}/other`, mergePatch('y'));
    const w = client().watch(`${CM}?watch=true&resourceVersion=${list.metadata.resourceVersion}`);
    try {
      await until(() => w.events.length >= 1);
      await sleep(100);
      expect(w.events.map((e) => [e.type, e.object.metadata.name, e.object.data.seq])).toEqual([['MODIFIED', 'other', 'y']]);
    } finally {
      w.close();
    }
  });

  it('answers 403 Forbidden, naming the verb, to a kha-forbidden token', async () => {
    const token = 'kha-forbidden-drill';
    const tries: [string, string, string, Options][] = [
      ['create', 'POST', CM, { body: JSON.stringify({ metadata: { name: 'x' } }) }],
      ['get', 'GET', `${CM}/other`, {}],
      ['list', 'GET', CM, {}],
      ['patch', 'PATCH', `${CM}/other`, mergePatch('z')],
      ['delete', 'DELETE', `${CM}/other`, {}],
      ['watch', 'GET', `${CM}?watch=1`, {}],
    ];
    for (const [verb, method, path, o] of tries) {
      const r = await client().req(method, path, { ...o, token });
      expect(r.status).toBe(403);
      expect(parsed(r)).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403 });
      expect(parsed(r).message).toMatch(new RegExp(`is forbidden: User "kha-forbidden" cannot ${verb} resource "configmaps" in API group "" in the namespace "default"$`));
    }
    // The ConfigMap is still there, and any other token may read it.
    expect((await client().req('GET', `${CM}/other`, { token: 'another' })).status).toBe(200);
  });

  it("answers kubectl's discovery: /api, /apis, and configmaps in /api/v1", async () => {
    expect(JSON.parse((await client().req('GET', '/api')).body)).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    expect(JSON.parse((await client().req('GET', '/apis')).body)).toMatchObject({ kind: 'APIGroupList', groups: [] });
    const v1 = JSON.parse((await client().req('GET', '/api/v1')).body) as { resources: { name: string; namespaced: boolean; verbs: string[] }[] };
    expect(v1.resources).toContainEqual(expect.objectContaining({ name: 'configmaps', namespaced: true, verbs: expect.arrayContaining(['create', 'get', 'list', 'watch', 'patch', 'delete']) }));
  });
}

describe('the ConfigMap API over HTTP/1.1', () => {
  let s: StandIn;
  beforeAll(async () => {
    s = await startStandIn('m4');
  });
  configMapSuite(() => http1Client(s.port));
});

describe(`the ConfigMap API over HTTP/2${H2_SKIPPED}`, () => {
  let s: StandIn;
  let session: ClientHttp2Session;
  beforeAll(async () => {
    if (!hasH2) return;
    s = await startStandIn('m5');
    session = await h2session(s.port);
  });
  afterAll(() => session?.close());
  if (hasH2) configMapSuite(() => http2Client(session));

  it.skipIf(!hasH2)('keeps a request body that comes in several DATA frames, and answers after END_STREAM', async () => {
    const r = session.request({ ':method': 'POST', ':path': CM, 'content-type': 'application/json' });
    let status = 0;
    let body = '';
    r.on('response', (h) => (status = Number(h[':status'])));
    r.on('data', (d: Buffer) => (body += d.toString()));
    const ended = new Promise((resolve) => r.on('end', resolve));
    const json = JSON.stringify({ metadata: { name: 'split' }, data: { seq: '7' } });
    r.write(json.slice(0, 10));
    await sleep(200);
    expect(status).toBe(0);
    r.end(json.slice(10));
    await ended;
    expect(status).toBe(201);
    expect(JSON.parse(body)).toMatchObject({ metadata: { name: 'split' }, data: { seq: '7' } });
  });
});
