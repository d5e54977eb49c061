// Turns a known_hosts verdict into ssh2's yes/no and, on a no, into the
// message the operator needs: which key, which file and line, what to run.

import { shellQuote } from '../shell/quote.js';
import type { HostKeyVerdict, KnownHosts } from './known-hosts.js';

export interface HostKeyCheck {
  /** For ssh2's `hostVerifier`: it passes the raw key blob. */
  verify(blob: Buffer): boolean;
  /** Why the last presented key was refused, if it was. */
  refusal(): string | undefined;
}

export function hostKeyCheck(known: KnownHosts, name: string, address: string, port: number): HostKeyCheck {
  let verdict: HostKeyVerdict | undefined;
  return {
    verify(blob) {
      verdict = known.check(address, port, blob);
      return verdict.kind === 'match';
    },
    refusal() {
      return verdict && verdict.kind !== 'match' ? refusalMessage(verdict, known, name, address, port) : undefined;
    },
  };
}

type Refused = Exclude<HostKeyVerdict, { kind: 'match' }>;

export function refusalMessage(verdict: Refused, known: KnownHosts, name: string, address: string, port: number): string {
  return verdictMessage(verdict, known, name, address, port) + skippedNote(known);
}

function verdictMessage(verdict: Refused, known: KnownHosts, name: string, address: string, port: number): string {
  const { presented } = verdict;
  const key = `${presented.type} ${presented.fingerprint}`;
  const where = `${name} (${address}:${port})`;
  switch (verdict.kind) {
    case 'revoked':
      return `host key ${key} of ${where} is revoked in ${verdict.at.file}:${verdict.at.line}; refusing to connect`;
    case 'mismatch': {
      const expected = verdict.expected
        .map((k) => `${k.type} ${k.fingerprint} at ${k.at.file}:${k.at.line}`)
        .join(', ');
      return (
        `host key for ${where} does not match ${known.file}: the host presented ${key}, expected ${expected}. ` +
        `Either the host was reinstalled or someone is intercepting the connection; ` +
        `once you have verified the new key, remove the old one with ` +
        `\`ssh-keygen -f ${shellQuote(known.file)} -R ${shellQuote(lookupName(address, port))}\``
      );
    }
    case 'unknown': {
      const ca = verdict.ignoredCertAuthorities.map((l) => `${l.file}:${l.line}`);
      const caNote = ca.length
        ? ` (@cert-authority at ${ca.join(', ')} is not supported by kha and was not trusted)`
        : '';
      const missing = known.exists ? '' : ' (the file does not exist)';
      return (
        `host key for ${where} is not in ${known.file}${missing}${caNote}; verify the fingerprint ` +
        `${key} and add it with \`ssh-keyscan -p ${port} ${shellQuote(address)} >> ${shellQuote(known.file)}\``
      );
    }
  }
}

/** A line kha could not read may be the one that should have matched. */
function skippedNote(known: KnownHosts): string {
  const [first, ...rest] = known.warnings;
  if (!first) return '';
  const more = rest.length ? ` and ${rest.length} more` : '';
  return ` (skipped unreadable line ${first.at.file}:${first.at.line}${more}: ${first.message})`;
}

function lookupName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

// ssh2 picks the first host key algorithm both sides know; putting the
// types known_hosts holds first makes the server show a key we can check,
// as OpenSSH does, instead of refusing a legitimate host for its other key.
const ALGORITHMS_FOR_TYPE: Readonly<Record<string, readonly string[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export function preferredHostKeyAlgorithms(knownTypes: readonly string[]): string[] {
  return knownTypes.flatMap((t) => ALGORITHMS_FOR_TYPE[t] ?? []);
}
