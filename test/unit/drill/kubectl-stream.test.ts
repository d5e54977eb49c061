import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findKubectl, kubectlEnded, openKubectlStream } from '../../../src/drill/kubectl-stream.js';
import { openStreams } from '../../../src/drill/operator-streams.js';

// The operator's kubectl as a held stream (issue 15 point 1): how its last
// words are read, and the stream's life around a kubectl that exits when
// its connection ends. A script stands in for kubectl here; the lab's drills
// run the real one through the VIP.

describe("kubectl's last words", () => {
  it('a reset, the health check giving up, the server ending the stream, anything else as printed', () => {
    expect(kubectlEnded(1, 'Error from server: read tcp 10.77.0.1:4000->10.77.0.10:6443: read: connection reset by peer\n')).toEqual({ how: 'rst' });
    expect(kubectlEnded(1, 'error: http2: client connection lost\n')).toEqual({ how: 'timeout', detail: "client-go's HTTP/2 health check" });
    expect(kubectlEnded(0, '')).toEqual({ how: 'fin' });
    expect(kubectlEnded(1, 'error: unexpected EOF\n')).toEqual({ how: 'fin' });
    expect(kubectlEnded(1, 'line one\nThe connection to the server 10.77.0.10:6443 was refused - did you specify the right host or port?\n')).toEqual({
      how: 'error',
      detail: 'The connection to the server 10.77.0.10:6443 was refused - did you specify the right host or port?',
    });
    expect(kubectlEnded(null, '')).toEqual({ how: 'error', detail: 'kubectl exited on a signal' });
  });
});

describe('which kubectl', () => {
  it('KHA_KUBECTL first, else the first executable kubectl on PATH, else none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kha-kubectl-path-'));
    const bin = join(dir, 'kubectl');
    writeFileSync(bin, '#!/bin/sh\n');
    chmodSync(bin, 0o755);
    expect(findKubectl({ PATH: `/nonexistent:${dir}` })).toBe(bin);
    expect(findKubectl({ PATH: '/nonexistent', KHA_KUBECTL: bin })).toBe(bin);
    expect(findKubectl({ PATH: '/nonexistent' })).toBeUndefined();
  });
});

describe('a kubectl stream', () => {
  it('counts the events kubectl prints, starts kubectl again when it exits, and removes its kubeconfig when stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kha-fake-kubectl-'));
    const bin = join(dir, 'kubectl');
    const log = join(dir, 'args');
    // Three events, then the reset a dying holder's release gives; the args it was given logged.
    writeFileSync(bin, `#!/bin/bash\necho "$@" >> ${log}\nfor i in 1 2 3; do echo "{\\"seq\\": $i}"; sleep 0.05; done\necho 'read: connection reset by peer' >&2\nexit 1\n`);
    chmodSync(bin, 0o755);
    const h = openKubectlStream('kubectl', bin, { host: '10.77.0.10', port: 6443, path: '/watch' }, performance.now());
    await h.flowing;
    await new Promise((r) => setTimeout(r, 600));
    const args = readFileSync(log, 'utf8').trim().split('\n')[0]!.split(' ');
    const kubeconfig = args[args.indexOf('--kubeconfig') + 1]!;
    expect(readFileSync(kubeconfig, 'utf8')).toContain('server: https://10.77.0.10:6443');
    expect(args.slice(-3)).toEqual(['get', '--raw', '/watch']);
    const record = await h.stop();
    expect(record.kind).toBe('kubectl');
    expect(record.connections.length).toBeGreaterThanOrEqual(2);
    expect(record.connections[0]!.events).toHaveLength(3);
    expect(record.connections[0]!.ended?.how).toBe('rst');
    expect(record.connections.at(-1)!.ended?.detail).not.toBe('closed');
    expect(existsSync(kubeconfig)).toBe(false);
  });
});

describe('beside the drill\'s own streams', () => {
  it('kubectl is not started where the drill\'s own streams find no watch (a real apiserver): its made-up token never knocks there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kha-fake-kubectl-'));
    const bin = join(dir, 'kubectl');
    const log = join(dir, 'ran');
    writeFileSync(bin, `#!/bin/bash\ntouch ${log}\n`);
    chmodSync(bin, 0o755);
    // Port 9 on loopback: nothing listens, every connection is refused.
    const streams = await openStreams({ host: '127.0.0.1', port: 9, path: '/watch' }, performance.now(), bin);
    expect(streams.unavailable).toMatch(/^no event on 127\.0\.0\.1:9\/watch within 3 s \(ECONNREFUSED\)/);
    expect(await streams.stop()).toEqual([]);
    expect(existsSync(log)).toBe(false);
  }, 10_000);
});
