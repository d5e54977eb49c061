import { describe, expect, it } from 'vitest';
import { planChange } from '../../../src/execute/plan-changes.js';
import type { Change } from '../../../src/plan/changes.js';
import type { HostPlan } from '../../../src/plan/plan.js';

const marker = { path: '/var/lib/kha/keepalived.loaded', digest: 'd' };
const enable: Change = { kind: 'service.enable', service: 'haproxy' };
const start: Change = { kind: 'service.start', service: 'haproxy', marker };
const reload: Change = { kind: 'service.reload', service: 'haproxy', why: 'its configuration changed', marker };
const stopKeepalived: Change = { kind: 'service.stop', service: 'keepalived', why: 'its VRRP group changes; it rejoins after the holder' };
const startKeepalived: Change = { kind: 'service.start', service: 'keepalived', marker };

const shown = (...changes: Change[]): HostPlan => ({ host: 'lb2', tasks: [{ task: 'services', changes }] });

describe('what was done against the plan shown', () => {
  it('the same changes: nothing to say', () => {
    expect(planChange(shown(enable, start), [enable, start])).toBeUndefined();
  });

  it('other changes: what was added and what was dropped', () => {
    const selinux: Change = { kind: 'selinux.boolean', name: 'haproxy_connect_any', value: true };
    expect(planChange(shown(enable, start), [selinux, start])).toEqual({ host: 'lb2', added: ['setsebool -P haproxy_connect_any on'], dropped: ['enable haproxy at boot'] });
  });

  it('a start that became a reload (the package started the service on its default configuration): the same intent, nothing to say', () => {
    expect(planChange(shown(enable, start), [enable, reload])).toBeUndefined();
  });

  it('less done than shown (a package enabled its service itself): nothing to say, the host got no change it was not shown', () => {
    expect(planChange(shown(enable, start), [start])).toBeUndefined();
  });

  it('a backup stopped to change its VRRP group and started after the holder: the plan said it rejoins', () => {
    expect(planChange(shown(stopKeepalived), [stopKeepalived, startKeepalived])).toBeUndefined();
    expect(planChange(shown(), [startKeepalived])).toEqual({ host: 'lb2', added: ['start keepalived'], dropped: [] });
  });
});
