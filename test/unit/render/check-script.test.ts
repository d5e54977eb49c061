import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseInventory } from '../../../src/inventory/load.js';
import { packageRoot } from '../../../src/paths.js';
import { renderLoadBalancer } from '../../../src/render/render.js';
import { CHECK_SCRIPT_PATH, MONITOR_URI } from '../../../src/render/context.js';

// keepalived's check (templates/kha-check-haproxy.sh.ejs) run by a real bash
// against a stand-in for haproxy's health page on 127.0.0.1: what each run
// decides, and that a death within a run ends it at once. The figures of how
// soon are the lab's (bench/failover.mjs), not asserted here.

const r = parseInventory(readFileSync(join(packageRoot, 'examples', 'hosts.yaml'), 'utf8'), 'hosts.yaml', {});
if (!r.ok) throw new Error(JSON.stringify(r.problems));
const inv = r.inventory;
const script = renderLoadBalancer(inv, inv.lbs[0]!, 'eth0').find((f) => f.path === CHECK_SCRIPT_PATH)!.content;

type Answer = 'ok' | 'unavailable' | 'silent';
let server: Server | undefined;
const open = new Set<Socket>();

/** A health page on a free port, answering as `answer()` says at each question; the questions' paths are recorded. */
async function healthPage(answer: () => Answer, paths: string[] = []): Promise<number> {
  server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.once('data', (d) => {
      paths.push(d.toString().split(' ')[1] ?? '');
      const a = answer();
      if (a === 'silent') return;
      socket.end(a === 'ok' ? 'HTTP/1.0 200 OK\r\n\r\n' : 'HTTP/1.0 503 Service Unavailable\r\n\r\n');
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function stop(): Promise<void> {
  const s = server;
  server = undefined;
  if (!s) return;
  for (const socket of open) socket.destroy();
  await new Promise<void>((resolve) => s.close(() => resolve()));
}

afterEach(stop);

/** Runs the check with WATCH centiseconds; resolves with its exit code and how long it ran. */
function check(port: number, watchCs: number): Promise<{ code: number | null; ms: number; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kha-check-'));
  const path = join(dir, 'check.sh');
  writeFileSync(path, script);
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn('bash', [path, String(port), String(watchCs)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, ms: performance.now() - started, stderr });
    });
  });
}

describe("keepalived's check of haproxy", () => {
  it('asks the health page again and again for its whole watch, and passes', async () => {
    const paths: string[] = [];
    const port = await healthPage(() => 'ok', paths);
    const { code } = await check(port, 60);
    expect(code).toBe(0);
    // Several questions in one run, not one: at a 0.1 s pace, 0.6 s holds more than three.
    expect(paths.length).toBeGreaterThan(3);
    expect(new Set(paths)).toEqual(new Set([MONITOR_URI]));
  });

  it('fails at the second refused question, not the first: nothing listening', async () => {
    const port = await healthPage(() => 'ok');
    await stop();
    const { code, ms, stderr } = await check(port, 500);
    expect(code).toBe(1);
    // bash says each refused connection on stderr (keepalived discards it): two, so the first did not end the run.
    expect(stderr.match(/connect: Connection refused/g)).toHaveLength(2);
    // Long before the 5 s watch would have ended.
    expect(ms).toBeLessThan(4000);
  });

  it('a haproxy that dies during the run ends the run with a failure, without waiting for its end', async () => {
    const port = await healthPage(() => 'ok');
    setTimeout(() => void stop(), 400);
    const { code, ms } = await check(port, 1000);
    expect(code).toBe(1);
    expect(ms).toBeLessThan(8000);
  });

  it('one failed answer among good ones is a blip (a reload), not a failure', async () => {
    let n = 0;
    const port = await healthPage(() => (++n === 2 ? 'unavailable' : 'ok'));
    const { code } = await check(port, 60);
    expect(n).toBeGreaterThan(3);
    expect(code).toBe(0);
  });

  it('two answers in a row that are not 200 fail it', async () => {
    const port = await healthPage(() => 'unavailable');
    expect((await check(port, 500)).code).toBe(1);
  });

  it('a haproxy that takes questions and never answers fails after two unanswered ones', async () => {
    const port = await healthPage(() => 'silent');
    const { code, ms } = await check(port, 500);
    expect(code).toBe(1);
    expect(ms).toBeLessThan(4000);
  });

  it("a question the watch's end cut short says nothing: the run passes, the next asks again", async () => {
    const port = await healthPage(() => 'silent');
    // 0.2 s of watch: the first question may wait only that long, less than an answer's 0.3 s.
    expect((await check(port, 20)).code).toBe(0);
  });
});
