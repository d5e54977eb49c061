// Loads the operator's identity file, asking for a passphrase only when the
// key is encrypted, and checks the passphrase before any connection uses it.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { Secret } from '../secret.js';

/** Asks the operator for a key's passphrase; `attempt` counts from 1. */
export type PassphrasePrompt = (keyFile: string, attempt: number) => Promise<Secret>;

export interface LoadedKey {
  path: string;
  privateKey: string;
  passphrase?: Secret;
}

const MAX_ATTEMPTS = 3;

// ssh2 ships no type declarations (and @types/ssh2 pins @types/node 18), so
// the one function used from it directly is typed here.
interface Ssh2Key {
  isPrivateKey(): boolean;
}
interface Ssh2Utils {
  parseKey(data: string, passphrase?: string): Ssh2Key | Ssh2Key[] | Error;
}
const { utils: ssh2 } = createRequire(import.meta.url)('ssh2') as { utils: Ssh2Utils };

export function expandHome(path: string): string {
  if (path === '~') return homedir();
  return path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

export async function loadPrivateKey(file: string, prompt: PassphrasePrompt | undefined): Promise<LoadedKey> {
  const path = expandHome(file);
  let privateKey: string;
  try {
    privateKey = await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read identity file ${file}: ${(err as Error).message}`);
  }
  const plain = parseError(privateKey, undefined);
  if (plain === undefined) return { path, privateKey };
  if (!/no passphrase given/i.test(plain)) throw new InputError(`identity file ${file} is not a usable private key: ${plain}`);
  if (!prompt) throw new InputError(`identity file ${file} is encrypted and kha cannot ask for its passphrase here`);
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const passphrase = await prompt(file, attempt);
    if (parseError(privateKey, passphrase.reveal()) === undefined) return { path, privateKey, passphrase };
  }
  throw new InputError(`wrong passphrase for identity file ${file} (${MAX_ATTEMPTS} attempts)`);
}

function parseError(data: string, passphrase: string | undefined): string | undefined {
  const parsed = ssh2.parseKey(data, passphrase);
  if (parsed instanceof Error) return parsed.message;
  // A .pub file parses too, as a key without its private half.
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  return first?.isPrivateKey() ? undefined : 'it holds no private key';
}

/**
 * One load per identity file for many hosts, so a passphrase is asked once
 * and never by two connections at the same time.
 */
export class KeyRing {
  private readonly loads = new Map<string, Promise<LoadedKey>>();

  load(file: string, prompt: PassphrasePrompt | undefined): Promise<LoadedKey> {
    const path = expandHome(file);
    let loaded = this.loads.get(path);
    if (!loaded) {
      loaded = loadPrivateKey(file, prompt);
      this.loads.set(path, loaded);
    }
    return loaded;
  }
}
