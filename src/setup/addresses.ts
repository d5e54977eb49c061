import { IPV4_RE } from '../inventory/addresses.js';
import type { Prompter, Validate } from './prompter.js';

// Addresses as people paste them: several on a line (spaces, commas,
// semicolons), or one per line. A prompt ends at a line break, so a list is
// asked line by line until an empty line: a pasted column of addresses
// answers one line each.

export function splitAddresses(text: string): string[] {
  return text.split(/[\s,;]+/).filter(Boolean);
}

/** A validator for a line of distinct IPv4 addresses, none of them in `taken` (with what that list is). */
export function addressLine(taken: ReadonlyMap<string, string>): Validate {
  return (text) => {
    const list = splitAddresses(text);
    const bad = list.filter((a) => !IPV4_RE.test(a));
    if (bad.length > 0) return `${bad.map((b) => JSON.stringify(b.slice(0, 40))).join(', ')}: not an IPv4 address (write them like 10.0.0.11 10.0.0.12)`;
    const dup = list.filter((a, i) => list.indexOf(a) !== i);
    if (dup.length > 0) return `${dup.join(', ')} given twice`;
    const clash = list.find((a) => taken.has(a));
    if (clash) return `${clash} is already ${taken.get(clash)}`;
    return true;
  };
}

/**
 * At least `min` addresses, line by line until an empty line. `defaults`
 * (an existing file's) are offered on the first line; taking them ends the list.
 */
export async function askAddresses(
  p: Prompter,
  q: { message: string; min: number; what: string; taken: ReadonlyMap<string, string>; defaults?: readonly string[] },
): Promise<string[]> {
  const list: string[] = [];
  const offered = q.defaults?.join(' ');
  for (;;) {
    const first = list.length === 0;
    const taken = new Map([...q.taken, ...list.map((a) => [a, `one of the ${q.what}`] as const)]);
    const line = await p.input({
      message: first ? `${q.message} (several per line, or one per line; an empty line ends the list)` : `more ${q.what} (${list.length} so far; an empty line ends the list)`,
      ...(first && offered ? { default: offered } : {}),
      validate: (text) => {
        if (text.trim() !== '') return addressLine(taken)(text);
        return list.length >= q.min ? true : `give at least ${q.min} ${q.what}${q.min === 2 ? ': with one there is nothing to fail over to' : ''}`;
      },
    });
    if (line.trim() === '') return list;
    list.push(...splitAddresses(line));
    if (first && line === offered) return list;
  }
}
