import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The lab's kube-apiserver stand-in (templates/lab/apiserver.py) on loopback
// with a throwaway certificate: HTTP/2 for a client that asks for it by ALPN
// (client-go's PING health check runs only there), HTTP/1.1 exactly as before
// for every other client (haproxy's checks, the drills' streams).

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

  it('without python3-h2 still runs, says so once, and offers only http/1.1', async () => {
    const bare = await startStandIn('m3', true);
    expect(bare.stdout.match(/no python3-h2/g)).toHaveLength(1);
    const r = await http1(bare.port, 'GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 300, ['h2', 'http/1.1']);
    expect(r.alpn).toBe('http/1.1');
    expect(r.received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});
