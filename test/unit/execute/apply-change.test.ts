import { describe, expect, it } from 'vitest';
import { HostError } from '../../../src/errors.js';
import { applyChange, putBackPending, Rollback } from '../../../src/execute/apply-change.js';
import type { Change } from '../../../src/plan/changes.js';
import { KEEPALIVED_VALIDATE } from '../../../src/render/validators.js';
import { FakeSession } from '../../../src/transport/fake.js';

// The executor against a scripted session: the order of remote steps is the
// safety (validate before swap, backup before rename), so it is pinned here.

const conf: Extract<Change, { kind: 'file.write' }> = {
  kind: 'file.write',
  path: '/etc/keepalived/keepalived.conf',
  mode: 0o600,
  content: 'new\n',
  previous: 'old\n',
  modeOnly: false,
  validate: KEEPALIVED_VALIDATE,
  secret: true,
  service: 'keepalived',
};
const marker = { path: '/var/lib/kha/keepalived.loaded', digest: 'abc\n' };

describe('writing a file', () => {
  it('puts a candidate, validates it, keeps a backup, forgets the loaded digest (not the VRRP group), then renames', async () => {
    const s = new FakeSession('lb1', [
      { command: 'mkdir -p /etc/keepalived' },
      { command: /keepalived -t -f \/etc\/keepalived\/\.kha-new\.keepalived\.conf/ },
      {
        command:
          "rm -f /etc/keepalived/keepalived.conf.kha-bak && (umask 077 && cp /etc/keepalived/keepalived.conf /etc/keepalived/keepalived.conf.kha-bak) && { [ ! -f /var/lib/kha/keepalived.loaded ] || sed -i '1c written, not loaded' /var/lib/kha/keepalived.loaded; } && mv -f /etc/keepalived/.kha-new.keepalived.conf /etc/keepalived/keepalived.conf",
      },
    ]);
    const rollback = new Rollback();
    await applyChange(s, conf, rollback);
    s.assertDone();
    expect(s.calls.find((c) => c.kind === 'put')).toMatchObject({ path: '/etc/keepalived/.kha-new.keepalived.conf', mode: 0o600, content: 'new\n' });
    expect(rollback.pending()).toEqual([{ path: '/etc/keepalived/keepalived.conf', backup: '/etc/keepalived/keepalived.conf.kha-bak' }]);
  });

  it('leaves the host unchanged when the validator rejects the file', async () => {
    const s = new FakeSession('lb1', [
      { command: 'mkdir -p /etc/keepalived' },
      { command: /keepalived -t/, result: { code: 1, stderr: "Unknown keyword 'advert_intt'" } },
      { command: 'rm -f /etc/keepalived/.kha-new.keepalived.conf' },
    ]);
    const err = await applyChange(s, conf, new Rollback()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostError);
    expect((err as HostError).message).toMatch(/rejected by its validator, so it was not installed and the host is unchanged:\nUnknown keyword/);
    s.assertDone();
    expect(s.commands().some((c) => c.includes('mv -f'))).toBe(false);
  });
});

describe('reloading', () => {
  it('records what was loaded and keeps nothing to put back', async () => {
    const s = new FakeSession('lb1', [{ command: /^systemctl reload keepalived/ }]);
    const rollback = new Rollback();
    rollback.record('keepalived', conf.path, `${conf.path}.kha-bak`);
    await applyChange(s, { kind: 'service.reload', service: 'keepalived', why: 'x', marker }, rollback);
    expect(s.calls.find((c) => c.kind === 'put')).toMatchObject({ path: marker.path, content: marker.digest, mode: 0o600 });
    expect(rollback.pending()).toEqual([]);
  });

  it('puts the previous files back when the reload does not take, and says so', async () => {
    const s = new FakeSession('lb1', [
      { command: /workers\(\)/, result: { code: 1, stderr: 'haproxy did not start a worker on the new configuration' } },
      { command: /journalctl -u haproxy/, result: { stdout: '[ALERT] cannot bind socket' } },
      { command: /^mv -f \/etc\/haproxy\/haproxy\.cfg\.kha-bak \/etc\/haproxy\/haproxy\.cfg && \{ m=\$\(systemctl show/ },
    ]);
    const rollback = new Rollback();
    rollback.record('haproxy', '/etc/haproxy/haproxy.cfg', '/etc/haproxy/haproxy.cfg.kha-bak');
    const err = (await applyChange(s, { kind: 'service.reload', service: 'haproxy', why: 'x', marker }, rollback).catch((e: unknown) => e)) as HostError;
    expect(err.step).toBe('reload haproxy');
    expect(err.message).toMatch(/^the new configuration did not load, so kha put back \/etc\/haproxy\/haproxy\.cfg: haproxy runs on the previous files again\./);
    expect(err.message).toContain('cannot bind socket');
    s.assertDone();
  });
});

describe('a run that stops', () => {
  it('puts back files written but not loaded, and only those', async () => {
    const s = new FakeSession('lb2', [
      { command: 'mv -f /etc/haproxy/haproxy.cfg.kha-bak /etc/haproxy/haproxy.cfg && rm -f /etc/keepalived/kha-check-haproxy.sh' },
    ]);
    const rollback = new Rollback();
    rollback.record('haproxy', '/etc/haproxy/haproxy.cfg', '/etc/haproxy/haproxy.cfg.kha-bak');
    rollback.record('keepalived', '/etc/keepalived/kha-check-haproxy.sh', null);
    expect(await putBackPending(s, rollback)).toEqual(['/etc/haproxy/haproxy.cfg', '/etc/keepalived/kha-check-haproxy.sh']);
    expect(rollback.pending()).toEqual([]);
    s.assertDone();
  });
});
