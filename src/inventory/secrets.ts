import { showText } from './show.js';

// What a secret may hold, written literally or read from the environment.
// kha writes auth_pass into keepalived.conf and the sudo password into every
// command it runs with sudo -S; neither may change what is read there.

/**
 * The characters keepalived reads as one word in keepalived.conf (its
 * lib/parser.c): a line is split at whitespace and '"', cut at '#' or '!'
 * (comments), split again at '{' and '}' (blocks), '$' starts a parameter
 * (keepalived always defines a few, such as $_PWD), '\' an escape, and its
 * quoted-string reader also takes '\''. Printable ASCII without those is safe,
 * and makes bytes and characters one.
 */
const AUTH_PASS_CHARS = "A-Za-z0-9%&()*+,./:;<=>?@\\[\\]^_`|~-";

const AUTH_PASS_WORD = new RegExp(`^[${AUTH_PASS_CHARS}]+$`);

/** A literal auth_pass, or an env: reference resolved at load time (no flags: JSON Schema patterns have none). */
export const AUTH_PASS_RE = new RegExp(`^(?:env:[^\\n\\r\\0]*|[${AUTH_PASS_CHARS}]*)$`);

/** VRRP PASS authentication carries 8 bytes; keepalived cuts a longer password. */
export const AUTH_PASS_MAX_BYTES = 8;

const AUTH_PASS_RULE = `printable ASCII without spaces, quotes, braces, '#', '!', '$' or '\\'`;

const AUTH_PASS_REASON =
  `${AUTH_PASS_RULE}: keepalived.conf would read the others as the end of the password ` +
  '(keepalived keeps only its first word), a comment, a block, a parameter or an escape';

export const AUTH_PASS_CHARS_MESSAGE = `may hold only ${AUTH_PASS_REASON}; choose another password, or write env:VARIABLE`;

export const AUTH_PASS_DESCRIPTION =
  `VRRP password (PASS authentication): env:VARIABLE or a literal of at most ${AUTH_PASS_MAX_BYTES} bytes of ${AUTH_PASS_RULE} ` +
  '(keepalived.conf would read those as the end of the word, a comment, a block, a parameter or an escape). VRRPv2 only, so it means whole-second adverts';

export function byteLength(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

/**
 * The variable's value if the environment holds it. `constructor`,
 * `toString` or `__proto__` are found on any object through what it
 * inherits; they are not set, and their values are not strings.
 */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  if (!Object.hasOwn(env, name)) return undefined;
  const value = env[name];
  return typeof value === 'string' ? value : undefined;
}

/** Why a secret read from the environment cannot be used; never quotes it. */
export function envSecretComplaint(name: string, secret: string, authPass: boolean): string | undefined {
  const variable = `environment variable ${showText(name)}`;
  if (/[\r\n]/.test(secret)) {
    return `${variable} holds a line break (CR or LF), such as the newline echo or a file leaves at the end; it would become part of the password and of what kha writes: set it without one`;
  }
  if (!authPass) return undefined;
  if (!AUTH_PASS_WORD.test(secret)) return `${variable} holds a character auth_pass cannot carry: only ${AUTH_PASS_REASON}; choose another password`;
  const bytes = byteLength(secret);
  if (bytes > AUTH_PASS_MAX_BYTES) return `${variable} holds ${bytes} bytes; VRRP PASS authentication carries at most ${AUTH_PASS_MAX_BYTES}`;
  return undefined;
}
