import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

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
 * key) resolves to the nearest existing ancestor. A value that comes from an
 * alias or a merge key (`<<: *defaults`) is found where its anchor wrote it,
 * since that is the text to change.
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

  private deref(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  /** The pair for `key` in a map, written there or brought in by its merge keys. */
  private pairIn(map: unknown, key: string, depth = 0): { key: Node | null; value: unknown } | undefined {
    const m = this.deref(map);
    // A map may merge itself through its own anchor; no real file chains merges this deep.
    if (!isMap(m) || depth > 8) return undefined;
    let merged: { key: Node | null; value: unknown } | undefined;
    for (const item of m.items) {
      if (!isPair(item) || !isScalar(item.key)) continue;
      if (item.key.value === key) return { key: item.key, value: item.value };
      // The parser turns a merge key into a symbol: only `<<` written plain, with merge keys on, is one.
      if (typeof item.key.value === 'symbol' && !merged) {
        const sources = isSeq(item.value) ? item.value.items : [item.value];
        for (const source of sources) {
          merged = this.pairIn(source, key, depth + 1);
          if (merged) break;
        }
      }
    }
    return merged;
  }

  private nodeAt(path: KeyPath): unknown {
    let node: unknown = this.doc.contents;
    for (const part of path) {
      const here = this.deref(node);
      if (typeof part === 'number') node = isSeq(here) ? here.items[part] : undefined;
      else node = this.pairIn(here, part)?.value;
      if (node === undefined || node === null) return undefined;
    }
    return node;
  }

  private start(node: unknown): Position | undefined {
    const range = (node as Partial<Node> | undefined)?.range;
    return range ? this.pos(range[0]) : undefined;
  }

  /** Where the value at `path` starts (or its nearest ancestor's). */
  value(path: KeyPath): Position {
    for (let n = path.length; n >= 0; n--) {
      const found = this.start(this.deref(this.nodeAt(path.slice(0, n))));
      if (found) return found;
    }
    return { line: 1, column: 1 };
  }

  /** The key under which `path` is written, for a value that is wrong as a whole. */
  keyOf(path: KeyPath): Position {
    const last = path[path.length - 1];
    if (typeof last !== 'string') return this.value(path);
    const parent = path.slice(0, -1);
    return this.start(this.pairIn(this.nodeAt(parent), last)?.key) ?? this.value(parent);
  }
}
