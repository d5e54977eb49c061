// An OpenSSH known_hosts reader, because ssh2 accepts any host key unless
// told otherwise and npm has no maintained parser. It follows sshd(8)'s
// SSH_KNOWN_HOSTS FILE FORMAT; host certificates are not supported.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface Location {
  file: string;
  line: number;
}

export interface KeyInfo {
  type: string;
  /** As OpenSSH prints it: `SHA256:` + unpadded base64. */
  fingerprint: string;
}

export interface KnownKey extends KeyInfo {
  at: Location;
}

export type HostKeyVerdict =
  | { kind: 'match'; presented: KeyInfo; at: Location }
  | { kind: 'mismatch'; presented: KeyInfo; expected: KnownKey[] }
  | { kind: 'unknown'; presented: KeyInfo; ignoredCertAuthorities: Location[] }
  | { kind: 'revoked'; presented: KeyInfo; at: Location };

type Marker = 'revoked' | 'cert-authority' | undefined;

type HostMatcher =
  | { kind: 'hashed'; salt: Buffer; hash: Buffer }
  | { kind: 'patterns'; patterns: { negated: boolean; glob: RegExp }[] };

interface Entry {
  marker: Marker;
  hosts: HostMatcher;
  type: string;
  blob: Buffer;
  at: Location;
}

export class KnownHosts {
  private constructor(
    readonly file: string,
    private readonly entries: readonly Entry[],
    /** Lines that were skipped, with why; OpenSSH skips them silently. */
    readonly warnings: readonly { at: Location; message: string }[],
    /** False when the file is absent: every host is then unknown. */
    readonly exists: boolean,
  ) {}

  static parse(text: string, file: string): KnownHosts {
    const entries: Entry[] = [];
    const warnings: { at: Location; message: string }[] = [];
    text.split(/\r?\n/).forEach((raw, index) => {
      const at = { file, line: index + 1 };
      const parsed = parseLine(raw.trim(), at);
      if (typeof parsed === 'string') warnings.push({ at, message: parsed });
      else if (parsed) entries.push(parsed);
    });
    return new KnownHosts(file, entries, warnings, true);
  }

  static async load(file: string): Promise<KnownHosts> {
    try {
      return KnownHosts.parse(await readFile(file, 'utf8'), file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new KnownHosts(file, [], [], false);
      throw err;
    }
  }

  /**
   * Judges the key a host presented. A revoked key is refused even when
   * another line lists it; a host listed only with other keys is a
   * mismatch whatever their types, which is stricter than OpenSSH.
   */
  check(host: string, port: number, blob: Buffer): HostKeyVerdict {
    const presented = describeKey(blob);
    const name = hostPortName(host, port);
    let matchedAt: Location | undefined;
    const expected: KnownKey[] = [];
    const ignoredCertAuthorities: Location[] = [];
    for (const entry of this.entries) {
      if (!matchesHost(entry.hosts, name)) continue;
      const same = entry.blob.equals(blob);
      if (entry.marker === 'revoked') {
        if (same) return { kind: 'revoked', presented, at: entry.at };
      } else if (entry.marker === 'cert-authority') {
        ignoredCertAuthorities.push(entry.at);
      } else if (same) {
        matchedAt ??= entry.at;
      } else {
        expected.push({ ...describeKey(entry.blob), at: entry.at });
      }
    }
    if (matchedAt) return { kind: 'match', presented, at: matchedAt };
    if (expected.length > 0) return { kind: 'mismatch', presented, expected };
    return { kind: 'unknown', presented, ignoredCertAuthorities };
  }

  /** Key types this file trusts for the host, in file order, for algorithm negotiation. */
  keyTypesFor(host: string, port: number): string[] {
    const name = hostPortName(host, port);
    const types = this.entries.filter((e) => e.marker === undefined && matchesHost(e.hosts, name)).map((e) => e.type);
    return [...new Set(types)];
  }
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` elsewhere. */
export function hostPortName(host: string, port: number): string {
  return (port === 22 ? host : `[${host}]:${port}`).toLowerCase();
}

export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function describeKey(blob: Buffer): KeyInfo {
  return { type: blobKeyType(blob) ?? 'unknown-key-type', fingerprint: fingerprint(blob) };
}

/** A key blob starts with its type as an SSH string (uint32 length + bytes). */
function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return undefined;
  return blob.subarray(4, 4 + length).toString('latin1');
}

function parseLine(line: string, at: Location): Entry | string | undefined {
  if (line === '' || line.startsWith('#')) return undefined;
  const fields = line.split(/[ \t]+/);
  let marker: Marker;
  if (fields[0]?.startsWith('@')) {
    const word = fields.shift();
    if (word === '@revoked') marker = 'revoked';
    else if (word === '@cert-authority') marker = 'cert-authority';
    else return `unknown marker ${word}`;
  }
  const [hostField, type, base64] = fields;
  if (hostField === undefined || type === undefined || base64 === undefined) {
    return 'expected [marker] hostnames keytype base64-key [comment]';
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return `key data of ${type} is not base64`;
  const blob = Buffer.from(base64, 'base64');
  const embedded = blobKeyType(blob);
  if (embedded !== type) return `key type ${type} does not match the key data (${embedded ?? 'unreadable'})`;
  const hosts = parseHosts(hostField);
  if (typeof hosts === 'string') return hosts;
  return { marker, hosts, type, blob, at };
}

function parseHosts(field: string): HostMatcher | string {
  if (field.startsWith('|')) {
    // `|1|salt|hmac`: ssh-keygen -H output, one name per field, no patterns.
    const parts = field.split('|');
    if (parts.length !== 4 || parts[1] !== '1') return `unsupported hashed host ${field}`;
    const salt = Buffer.from(parts[2] ?? '', 'base64');
    const hash = Buffer.from(parts[3] ?? '', 'base64');
    if (salt.length !== 20 || hash.length !== 20) return `malformed hashed host ${field}`;
    return { kind: 'hashed', salt, hash };
  }
  const patterns = field.split(',').filter((p) => p !== '').map((p) => {
    const negated = p.startsWith('!');
    return { negated, glob: globToRegExp(negated ? p.slice(1) : p) };
  });
  return patterns.length > 0 ? { kind: 'patterns', patterns } : `no host names in ${field}`;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

/** OpenSSH's match_hostname: any matching `!pattern` vetoes the line. */
function matchesHost(hosts: HostMatcher, name: string): boolean {
  if (hosts.kind === 'hashed') {
    const mac = createHmac('sha1', hosts.salt).update(name).digest();
    return timingSafeEqual(mac, hosts.hash);
  }
  let positive = false;
  for (const { negated, glob } of hosts.patterns) {
    if (!glob.test(name)) continue;
    if (negated) return false;
    positive = true;
  }
  return positive;
}
