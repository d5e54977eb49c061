import { describe, expect, it } from 'vitest';
import { closest } from '../../../src/inventory/suggest.js';

const CLUSTER = ['vip', 'port', 'dns_name'];
const HOST = ['name', 'address', 'interface', 'priority', 'ssh'];

describe('closest', () => {
  it('finds a missing, an extra and a wrong letter', () => {
    expect(closest('adress', HOST)).toBe('address');
    expect(closest('addresss', HOST)).toBe('address');
    expect(closest('prioritu', HOST)).toBe('priority');
  });

  it('counts two swapped neighbours as one typo', () => {
    expect(closest('prot', CLUSTER)).toBe('port');
    expect(closest('nmae', HOST)).toBe('name');
  });

  it('ignores case', () => {
    expect(closest('VIP', CLUSTER)).toBe('vip');
  });

  it('suggests nothing for a word that is not close', () => {
    expect(closest('monitoring', ['cluster', 'ssh', 'keepalived', 'haproxy', 'security', 'operator', 'lb', 'masters'])).toBeUndefined();
    expect(closest('x', CLUSTER)).toBeUndefined();
  });

  it('allows more edits for longer words, about one per three letters', () => {
    expect(closest('virtual_router', ['virtual_router_id'])).toBe('virtual_router_id');
    expect(closest('router_id', ['virtual_router_id'])).toBeUndefined();
    expect(closest('lb', ['ssh'])).toBeUndefined();
    expect(closest('sh', ['ssh'])).toBe('ssh');
  });

  it('keeps the first of equally close candidates, and gives nothing from nothing', () => {
    expect(closest('ab', ['aa', 'bb'])).toBe('aa');
    expect(closest('port', [])).toBeUndefined();
  });

  it('does not measure a word whose length alone puts it out of reach (a key of 100,000 characters)', () => {
    const start = performance.now();
    const top = ['$schema', 'cluster', 'ssh', 'keepalived', 'haproxy', 'security', 'drills', 'operator', 'lb', 'masters'];
    expect(closest('p'.repeat(100_000), top)).toBeUndefined();
    expect(performance.now() - start).toBeLessThan(100);
    expect(closest('virtual_router', ['virtual_router_id'])).toBe('virtual_router_id');
  });
});
