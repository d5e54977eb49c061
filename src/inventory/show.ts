// User text quoted back in a message. Messages reach terminals, CI logs and
// --json, so what a file holds must not be able to forge a line of output,
// send terminal escapes, fill the screen or reveal a password there.

import { REDACTED } from '../secret.js';

/** The most characters of user text a message repeats. */
const MAX_SHOWN = 60;

/**
 * A secret key run into its value (`auth_pass:hunter2`, no space after the
 * colon) is one word to YAML: a string or an unknown key name, never a value
 * under a secret key. Whatever follows such a key is taken for the secret,
 * wherever the word ends up.
 */
const GLUED_SECRET = /(auth_pass|sudo_password)\s*:/i;

/** What to do about a secret key run into its value; empty when `text` has none. */
export function gluedSecretHint(text: string): string {
  const key = GLUED_SECRET.exec(text)?.[1]?.toLowerCase();
  return key ? `; with no space after its colon, YAML reads ${key} and its value as one word: write '${key}: ' and then the value` : '';
}

function redactGlued(text: string): string {
  const m = GLUED_SECRET.exec(text);
  return m ? `${text.slice(0, m.index + m[0].length)}${REDACTED}` : text;
}

function shorten(text: string, max: number, counted: boolean): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return `${chars.slice(0, max).join('')}…${counted ? ` (${chars.length} characters)` : ''}`;
}

/** C0 and C1 controls, DEL, line and paragraph separators, the marks that reorder text, and '\' so that an escape cannot be faked. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\\]/g;

const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f', '\\': '\\\\' };

function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** User text fit for a message: a glued secret hidden, long text shortened, controls escaped the way JSON writes them. */
export function showText(text: string, max = MAX_SHOWN): string {
  return escapeUnsafe(shorten(redactGlued(text), max, true));
}

/** A key from the file as part of a path (`masters[0].key`): like showText, without the count its message gives. */
export function showKey(key: string): string {
  return escapeUnsafe(shorten(redactGlued(key), MAX_SHOWN, false));
}

/** `'text'`, the way messages quote a value from the file. */
export function quote(text: string): string {
  return `'${showText(text)}'`;
}
