import { inspect } from 'node:util';

export const REDACTED = '<redacted>';

/**
 * Every secret value this process has seen, so that text which reaches the
 * user from elsewhere (what a validator or a remote command printed, an error
 * message) can be cleaned without each caller knowing which secrets exist.
 */
const known = new Set<string>();

/**
 * A value that must never reach output, logs, diffs or --json. Every way
 * JavaScript turns an object into text yields `<redacted>`; only `reveal()`
 * gives the value, at the one place that has to send it to a host.
 */
export class Secret {
  readonly #value: string;

  constructor(
    value: string,
    /** Where it came from, safe to print: `env:KHA_VRRP_PASS` or `hosts.yaml`. */
    readonly source: string,
  ) {
    this.#value = value;
    if (value !== '') known.add(value);
  }

  reveal(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/**
 * Values this short also occur by chance in ordinary text ("1" in "lb1"):
 * they are redacted only where they stand alone, so output stays readable
 * without giving them away where they appear as themselves.
 */
const SHORT = 4;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces the given secrets' values (every known secret's when none are given) with <redacted>, longest first so no part of one survives. */
export function redact(text: string, secrets: Iterable<Secret | string> = known): string {
  const values = [...secrets].map((s) => (typeof s === 'string' ? s : s.reveal())).filter((v) => v !== '');
  let out = text;
  for (const v of values.sort((a, b) => b.length - a.length)) {
    out =
      v.length >= SHORT
        ? out.split(v).join(REDACTED)
        : out.replace(new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(v)}(?![A-Za-z0-9])`, 'g'), REDACTED);
  }
  return out;
}

/**
 * Credentials written in keepalived and haproxy configuration, by keyword:
 * a file on a host, or a line a validator echoes, may hold a password kha was
 * never told (a hand-written `auth_pass 1111`, `stats auth admin:secret`).
 * And those of a kubeconfig (node_proxy.kubelet shows the diff of the
 * kubelet's): an embedded client key, a bearer token, a password.
 */
const CREDENTIALS: readonly RegExp[] = [
  /(\bauth_pass\b\s*["']?)[^\s"'}]+/g,
  /(\bstats\s+auth\s+)\S+/g,
  /(\buser\s+\S+\s+(?:insecure-)?password\s+)\S+/g,
  /(^[ \t]*(?:client-key-data|token|password):[ \t]*)\S+/gm,
];

/** Text that came from a host (a file, a validator's complaint, a command's output): known secrets and credentials by keyword redacted. */
export function redactRemote(text: string, secrets?: Iterable<Secret | string>): string {
  let out = redact(text, secrets);
  for (const re of CREDENTIALS) out = out.replace(re, `$1${REDACTED}`);
  return out;
}
