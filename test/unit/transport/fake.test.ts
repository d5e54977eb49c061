import { describe, expect, it } from 'vitest';
import { InternalError } from '../../../src/errors.js';
import { TransportError } from '../../../src/transport/errors.js';
import { FakeSession } from '../../../src/transport/fake.js';

describe('FakeSession', () => {
  it('answers scripted commands in order and records them', async () => {
    const s = new FakeSession('lb1', [
      { command: 'cat /etc/os-release', result: { stdout: 'ID=debian\n' } },
      { command: /^haproxy -c -f /, result: { code: 1, stderr: 'bad config' } },
    ]);
    expect(await s.exec('cat /etc/os-release')).toEqual({ code: 0, stdout: 'ID=debian\n', stderr: '' });
    expect(await s.exec('haproxy -c -f /tmp/x', { sudo: true, stdin: 'in' })).toEqual({ code: 1, stdout: '', stderr: 'bad config' });
    expect(s.calls).toEqual([
      { kind: 'exec', command: 'cat /etc/os-release', stdin: undefined, sudo: undefined },
      { kind: 'exec', command: 'haproxy -c -f /tmp/x', stdin: 'in', sudo: true },
    ]);
    expect(s.commands()).toEqual(['cat /etc/os-release', 'haproxy -c -f /tmp/x']);
    s.assertDone();
  });

  it('fails loudly on an unexpected command, naming what it expected', async () => {
    const s = new FakeSession('lb1', [{ command: 'systemctl restart haproxy' }]);
    const err = await s.exec('systemctl restart keepalived').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as Error).message).toBe(
      'fake session lb1: unexpected command "systemctl restart keepalived"; expected "systemctl restart haproxy"',
    );
    await expect(new FakeSession('lb2').exec('id')).rejects.toThrow(/unexpected command "id"; the script is finished/);
  });

  it('in strict order, refuses a scripted command that comes too early', async () => {
    const s = new FakeSession('lb1', [{ command: 'a' }, { command: 'b' }]);
    await expect(s.exec('b')).rejects.toThrow(/expected "a"/);
  });

  it('in any order, answers each step once', async () => {
    const s = new FakeSession('lb1', [{ command: 'a', result: { stdout: 'A' } }, { command: 'b', result: { stdout: 'B' } }], { order: 'any' });
    expect((await s.exec('b')).stdout).toBe('B');
    expect((await s.exec('a')).stdout).toBe('A');
    await expect(s.exec('a')).rejects.toThrow(/unexpected command "a"/);
  });

  it('throws a scripted error, such as a transport failure', async () => {
    const s = new FakeSession('lb1', [{ command: 'sleep 100', error: new TransportError('lb1', 'exec', 'timed out') }]);
    await expect(s.exec('sleep 100')).rejects.toBeInstanceOf(TransportError);
  });

  it('assertDone names the first command that never ran', () => {
    const s = new FakeSession('lb1', [{ command: /^keepalived -t/ }]);
    expect(() => s.assertDone()).toThrow('fake session lb1: 1 scripted command(s) never ran, next: /^keepalived -t/');
  });

  it('keeps put files for get, and records both', async () => {
    const s = new FakeSession('lb1', [], { files: { '/etc/haproxy/haproxy.cfg': 'old' } });
    expect((await s.get('/etc/haproxy/haproxy.cfg'))?.toString()).toBe('old');
    expect(await s.get('/etc/keepalived/keepalived.conf')).toBeNull();
    await s.put('/etc/keepalived/keepalived.conf', 'new', { mode: 0o600, owner: 'root' });
    expect(s.files.get('/etc/keepalived/keepalived.conf')).toEqual({ content: Buffer.from('new'), mode: 0o600, owner: 'root' });
    expect(s.calls).toEqual([
      { kind: 'get', path: '/etc/haproxy/haproxy.cfg' },
      { kind: 'get', path: '/etc/keepalived/keepalived.conf' },
      { kind: 'put', path: '/etc/keepalived/keepalived.conf', content: 'new', mode: 0o600, owner: 'root', group: undefined },
    ]);
  });

  it('refuses use after close', async () => {
    const s = new FakeSession('lb1', [{ command: 'id' }]);
    await s.close();
    await expect(s.exec('id')).rejects.toThrow(/exec|id after close/);
    await expect(s.get('/x')).rejects.toThrow('fake session lb1: get /x after close()');
  });
});
