import { describe, expect, it } from 'vitest';
import { redact, redactRemote, Secret } from '../../src/secret.js';

describe('redact', () => {
  it('removes every occurrence of a secret, longest first so no part of one survives', () => {
    expect(redact('a Passw0rd-long and Passw0rd', [new Secret('Passw0rd', 't'), new Secret('Passw0rd-long', 't')])).toBe('a <redacted> and <redacted>');
  });

  it('redacts a short secret only where it stands alone, so ordinary text stays readable', () => {
    expect(redact('lb1 said 1 and 12', ['1'])).toBe('lb1 said <redacted> and 12');
  });

  it('knows every secret this process has seen', () => {
    new Secret('Zq9-seen-before', 'env:X');
    expect(redact('the password Zq9-seen-before leaked')).toBe('the password <redacted> leaked');
  });

  it('treats a secret as text, not as a pattern', () => {
    expect(redact('x a.b+c y', ['a.b+c'])).toBe('x <redacted> y');
    expect(redact('x a$b y', ['a$b'])).toBe('x <redacted> y');
  });
});

describe('redactRemote', () => {
  it.each([
    ["Unmatched quote: 'auth_pass \"Hunt3r'", "Unmatched quote: 'auth_pass \"<redacted>'"],
    ['    auth_pass 1111', '    auth_pass <redacted>'],
    ['stats auth admin:secret', 'stats auth <redacted>'],
    ['    user bob insecure-password B0b', '    user bob insecure-password <redacted>'],
    ['sudo: a password is required', 'sudo: a password is required'],
  ])('%j -> %j', (input, output) => {
    expect(redactRemote(input, [])).toBe(output);
  });
});
