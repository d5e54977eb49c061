// Shell text is made in many places: the transport runs it, but renderers,
// validators, facts and drills build it too. Quoting lives here, beside
// none of them, so that none has to import the transport to spell a word.

/**
 * Quotes one word for a POSIX shell. Single quotes make every character
 * literal except `'` itself, which is closed, escaped and reopened.
 * Plain words stay readable in dry-run output and logs.
 */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
