import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair, type YAMLMap } from 'yaml';
import { showKey } from './show.js';
import type { Anchors } from './yaml.js';

export type KeyPath = readonly (string | number)[];

export interface Position {
  line: number;
  column: number;
}

/** `lb[1].address` — the form every message uses; a key from the file is shown as messages quote it. */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${showKey(part)}` : showKey(part);
  }
  return out;
}

/** A map's own pairs by key, and its merge keys in order. */
interface MapIndex {
  own: Map<unknown, Pair>;
  merges: Pair[];
}

/**
 * Maps key paths to line:column in the source, so that every message points
 * at the text the user has to change. A path that does not exist (a missing
 * key) resolves to the nearest existing ancestor. A value that comes from an
 * alias or a merge key (`<<: *defaults`) is found where its anchor wrote it,
 * since that is the text to change.
 */
export class Locator {
  /** Built once per map: a file may have thousands of problems in one map, and looking each up by scanning would take their square. */
  private readonly indexes = new Map<YAMLMap, MapIndex>();

  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly anchors: Anchors,
  ) {}

  private pos(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  private deref(node: unknown): unknown {
    return this.anchors.deref(node);
  }

  private indexOf(map: YAMLMap): MapIndex {
    let index = this.indexes.get(map);
    if (index) return index;
    index = { own: new Map(), merges: [] };
    for (const item of map.items) {
      if (!isScalar(item.key)) continue;
      // The parser turns a merge key into a symbol: only `<<` written plain, with merge keys on, is one.
      if (typeof item.key.value === 'symbol') index.merges.push(item);
      else if (!index.own.has(item.key.value)) index.own.set(item.key.value, item);
    }
    this.indexes.set(map, index);
    return index;
  }

  /** The pair for `key` in a map, written there or brought in by its merge keys. */
  private pairIn(map: unknown, key: string, depth = 0): Pair | undefined {
    const m = this.deref(map);
    // A map may merge itself through its own anchor; no real file chains merges this deep.
    if (!isMap(m) || depth > 8) return undefined;
    const index = this.indexOf(m);
    const own = index.own.get(key);
    if (own) return own;
    for (const merge of index.merges) {
      const value = this.deref(merge.value);
      for (const source of isSeq(value) ? value.items : [merge.value]) {
        const merged = this.pairIn(source, key, depth + 1);
        if (merged) return merged;
      }
    }
    return undefined;
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
