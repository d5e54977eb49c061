/**
 * Quotes one word for a POSIX shell. Single quotes make every character
 * literal except `'` itself, which is closed, escaped and reopened.
 * Plain words stay readable in dry-run output and logs.
 */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
