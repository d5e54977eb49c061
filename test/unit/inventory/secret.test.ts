import { format, inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/secret.js';

describe('Secret', () => {
  const s = new Secret('hunter22', 'env:KHA_VRRP_PASS');

  it('gives its value only through reveal()', () => {
    expect(s.reveal()).toBe('hunter22');
    expect(s.length).toBe(8);
    expect(s.source).toBe('env:KHA_VRRP_PASS');
  });

  it('is <redacted> in every way JavaScript makes text of it', () => {
    expect(String(s)).toBe('<redacted>');
    expect(`${s}`).toBe('<redacted>');
    expect(`${String(s)}`).toBe('<redacted>');
    expect('' + s).toBe('<redacted>');
    expect(JSON.stringify(s)).toBe('"<redacted>"');
    expect(JSON.stringify({ auth: s })).toBe('{"auth":"<redacted>"}');
    expect(inspect(s)).toBe('<redacted>');
    expect(inspect({ nested: { auth: s } }, { depth: 10 })).toBe('{ nested: { auth: <redacted> } }');
    expect(format('%s %o %O %j', s, s, s, s)).toBe('<redacted> <redacted> <redacted> "<redacted>"');
  });

  it('has no enumerable field that holds the value', () => {
    expect(Object.values(s)).not.toContain('hunter22');
    expect(JSON.stringify(Object.entries(s))).not.toContain('hunter22');
  });
});
