import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export type KeyPath = readonly (string | number)[];

export interface Position {
  line: number;
  column: number;
}

/** `lb[1].address` — the form every message uses. */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out;
}

/**
 * Maps key paths to line:column in the source, so that every message points
 * at the text the user has to change. A path that does not exist (a missing
 * key) resolves to the nearest existing ancestor.
 */
export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  private pos(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  /** Where the value at `path` starts (or its nearest ancestor's). */
  value(path: KeyPath): Position {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as Node | undefined;
      if (node && typeof node === 'object' && 'range' in node && node.range) return this.pos(node.range[0]);
      if (node === undefined && n === 0 && this.doc.contents?.range) return this.pos(this.doc.contents.range[0]);
    }
    return { line: 1, column: 1 };
  }

  /** Where the key `key` of the map at `parent` is written. */
  key(parent: KeyPath, key: string): Position {
    const map = parent.length === 0 ? this.doc.contents : this.doc.getIn(parent, true);
    if (isMap(map)) {
      for (const item of map.items) {
        if (isPair(item) && isScalar(item.key) && item.key.value === key && item.key.range) {
          return this.pos(item.key.range[0]);
        }
      }
    }
    return this.value(parent);
  }

  /** The key under which `path` is written, for a value that is wrong as a whole. */
  keyOf(path: KeyPath): Position {
    const last = path[path.length - 1];
    if (typeof last === 'string') return this.key(path.slice(0, -1), last);
    return this.value(path);
  }

  isSequence(path: KeyPath): boolean {
    return isSeq(this.doc.getIn(path, true));
  }
}
