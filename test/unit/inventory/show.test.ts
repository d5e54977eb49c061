import { describe, expect, it } from 'vitest';
import { gluedSecretHint, quote, showKey, showText } from '../../../src/inventory/show.js';

describe('showText', () => {
  it('escapes what could forge a line of output or reach the terminal, the way JSON writes it', () => {
    expect(showText('a\nb\rc\td\u0000e\u0007f\u001b[31mg\u007fh\u009bi')).toBe('a\\nb\\rc\\td\\u0000e\\u0007f\\u001b[31mg\\u007fh\\u009bi');
    expect(showText('line\u2028para\u2029')).toBe('line\\u2028para\\u2029');
  });

  it('escapes the marks that reorder text on screen, and a backslash so that no escape can be faked', () => {
    expect(showText('abc\u202edef\u2066\u200f')).toBe('abc\\u202edef\\u2066\\u200f');
    expect(showText('C:\\keys\\n')).toBe('C:\\\\keys\\\\n');
  });

  it('leaves ordinary text, accents and emoji alone', () => {
    expect(showText("kube api.example, l'hôte 😀")).toBe("kube api.example, l'hôte 😀");
  });

  it('shortens long text to its first 60 characters and says how long it was, counting characters, not UTF-16 units', () => {
    expect(showText('x'.repeat(60))).toBe('x'.repeat(60));
    expect(showText('x'.repeat(61))).toBe(`${'x'.repeat(60)}… (61 characters)`);
    expect(showText('😀'.repeat(100))).toBe(`${'😀'.repeat(60)}… (100 characters)`);
    // Escapes are made after shortening, so none is cut in half.
    expect(showText(`${'x'.repeat(59)}\u001b${'x'.repeat(10)}`)).toBe(`${'x'.repeat(59)}\\u001b… (70 characters)`);
  });

  it('hides whatever follows a secret key run into its value, in any case and with spaces before the colon', () => {
    expect(showText('auth_pass:hunter2')).toBe('auth_pass:<redacted>');
    expect(showText('x sudo_password:hunter2 more')).toBe('x sudo_password:<redacted>');
    expect(showText('SUDO_PASSWORD :hunter2')).toBe('SUDO_PASSWORD :<redacted>');
    expect(showText(`auth_pass:${'s'.repeat(100)}`)).toBe('auth_pass:<redacted>');
    expect(showText('auth_pass is set')).toBe('auth_pass is set');
  });
});

describe('showKey', () => {
  it('is showText without the count, which the message with the key gives', () => {
    expect(showKey('k'.repeat(100))).toBe(`${'k'.repeat(60)}…`);
    expect(showKey('a\nb')).toBe('a\\nb');
    expect(showKey('sudo_password:hunter2')).toBe('sudo_password:<redacted>');
  });
});

describe('quote', () => {
  it('puts single quotes around showText', () => {
    expect(quote('a\nb')).toBe("'a\\nb'");
  });
});

describe('gluedSecretHint', () => {
  it('tells how to make a key of a secret key run into its value, naming the key as it must be written', () => {
    expect(gluedSecretHint('Auth_Pass:x')).toBe("; with no space after its colon, YAML reads auth_pass and its value as one word: write 'auth_pass: ' and then the value");
    expect(gluedSecretHint('user')).toBe('');
  });
});
