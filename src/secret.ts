import { inspect } from 'node:util';

const REDACTED = '<redacted>';

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
