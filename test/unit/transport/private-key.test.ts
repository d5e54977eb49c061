import { homedir } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { Secret } from '../../../src/secret.js';
import { expandHome, KeyRing, loadPrivateKey } from '../../../src/transport/private-key.js';
import { makeKey, tempDir, type TestKey } from './keys.js';

let dir: string;
let plain: TestKey;
let encrypted: TestKey;
let encryptedPem: TestKey;

beforeAll(() => {
  dir = tempDir('keys');
  plain = makeKey(dir, 'plain', ['-t', 'ed25519']);
  encrypted = makeKey(dir, 'enc', ['-t', 'ed25519'], 'correct horse');
  encryptedPem = makeKey(dir, 'enc-pem', ['-t', 'rsa', '-b', '2048', '-m', 'PEM'], 'correct horse');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A prompt that answers from a list and counts the questions. */
function answers(...values: string[]) {
  const asked: number[] = [];
  const prompt = async (_file: string, attempt: number) => {
    asked.push(attempt);
    return new Secret(values[attempt - 1] ?? '', 'prompt');
  };
  return { prompt, asked };
}

describe('loadPrivateKey', () => {
  it('never asks for the passphrase of an unencrypted key', async () => {
    const { prompt, asked } = answers();
    const key = await loadPrivateKey(plain.privatePath, prompt);
    expect(key.passphrase).toBeUndefined();
    expect(key.privateKey).toContain('OPENSSH PRIVATE KEY');
    expect(asked).toEqual([]);
  });

  it('asks again after a wrong passphrase, for OpenSSH and PEM keys', async () => {
    for (const file of [encrypted.privatePath, encryptedPem.privatePath]) {
      const { prompt, asked } = answers('wrong', 'correct horse');
      const key = await loadPrivateKey(file, prompt);
      expect(key.passphrase?.reveal()).toBe('correct horse');
      expect(asked).toEqual([1, 2]);
    }
  });

  it('gives up after three wrong passphrases', async () => {
    const { prompt, asked } = answers('a', 'b', 'c', 'correct horse');
    await expect(loadPrivateKey(encrypted.privatePath, prompt)).rejects.toThrow(/wrong passphrase for identity file .*enc \(3 attempts\)/);
    expect(asked).toEqual([1, 2, 3]);
  });

  it('says so when an encrypted key cannot be unlocked for lack of a prompt', async () => {
    await expect(loadPrivateKey(encrypted.privatePath, undefined)).rejects.toThrow(/is encrypted and kha cannot ask/);
  });

  it('reports a missing or unusable file as bad input', async () => {
    const missing = await loadPrivateKey(join(dir, 'absent'), undefined).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(InputError);
    expect((missing as Error).message).toMatch(/cannot read identity file .*absent: ENOENT/);
    await expect(loadPrivateKey(plain.publicPath, undefined)).rejects.toThrow(/is not a usable private key/);
  });
});

describe('KeyRing', () => {
  it('asks once per key file however many hosts use it', async () => {
    const { prompt, asked } = answers('correct horse');
    const ring = new KeyRing();
    const keys = await Promise.all([1, 2, 3].map(() => ring.load(encrypted.privatePath, prompt)));
    expect(new Set(keys).size).toBe(1);
    expect(asked).toEqual([1]);
  });
});

describe('expandHome', () => {
  it('expands ~ and ~/ only', () => {
    expect(expandHome('~/.ssh/id_ed25519')).toBe(join(homedir(), '.ssh/id_ed25519'));
    expect(expandHome('~')).toBe(homedir());
    expect(expandHome('/abs/~/x')).toBe('/abs/~/x');
  });
});
