import { describe, expect, it } from 'vitest';
import { parseRemoteSamples } from '../../../src/drill/remote-probe.js';

describe('the probe from a host inside the cluster', () => {
  it('maps the host\'s lines onto the drill\'s clock, with why each request failed', () => {
    const base = 1_795_000_000_000; // ms since the epoch on the host
    const ns = (ms: number) => String(BigInt(Math.round(ms * 1000)) * 1000n);
    const out = [
      `${ns(base + 100)} ${ns(base + 112.5)} 200 `,
      `${ns(base + 50)} ${ns(base + 250)} 0 timed out`,
      `${ns(base + 150)} ${ns(base + 151)} 0 connection refused`,
      `${ns(base + 200)} ${ns(base + 210)} 503 `,
      'Traceback (most recent call last): skipped',
      '',
    ].join('\n');
    const samples = parseRemoteSamples(out, (remote) => remote - base);
    expect(samples.map((x) => [Math.round(x.t), Math.round(x.ms * 10) / 10, x.ok, x.error])).toEqual([
      [50, 200, false, 'timed out'],
      [100, 12.5, true, undefined],
      [150, 1, false, 'connection refused'],
      [200, 10, false, 'HTTP 503'],
    ]);
  });
});

describe('the loop that runs on the probe host', () => {
  it('is valid Python that reports every request, failures named, and stops when told', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { LOOP } = await import('../../../src/drill/remote-probe.js');
    const stop = join(mkdtempSync(join(tmpdir(), 'kha-loop-')), 'stop');
    // Port 1 on loopback refuses at once: every request is a failure with a reason.
    const child = spawn('python3', ['-c', LOOP, stop, '127.0.0.1', '1', '/readyz', '0.05', '0.2', '1', '30'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let started = 0;
    const run = new Promise<string>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // Told to stop once it has answered a few times, however slowly this machine started Python.
        if (!started && out.split('\n').length > 6) {
          started = Date.now();
          writeFileSync(stop, '');
        }
      });
      child.on('exit', () => resolve(out));
    });
    const samples = parseRemoteSamples(await run, (ms) => ms);
    expect(started).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(samples.length).toBeGreaterThanOrEqual(5);
    expect(samples.every((x) => !x.ok && x.error === 'connection refused')).toBe(true);
    // On a 50 ms cadence (the median gap: a busy machine may delay one thread start).
    const gaps = samples.slice(1).map((x, i) => x.t - samples[i]!.t).sort((a, b) => a - b);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeGreaterThan(30);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(120);
  });
});
