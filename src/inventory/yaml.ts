import {
  Composer,
  CST,
  isAlias,
  isCollection,
  isMap,
  isScalar,
  isSeq,
  Lexer,
  Parser,
  visit,
  type Alias,
  type Document,
  type LineCounter,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';
import { quote, showText } from './show.js';

// Reading hosts.yaml as YAML: the parser's own errors, and the mistakes it
// lets through that would otherwise end in a crash, a warning on stderr or a
// problem reported at 1:1. Everything here takes one pass over the document,
// so that a file made of many keys or aliases costs time in proportion to
// its size.

/** A problem in the YAML itself, at an offset into the text. */
export interface YamlProblem {
  offset: number;
  message: string;
}

// Room for the largest hosts file kha accepts, with every key written on every
// host: 10 load balancers and 64 masters alone are about 3,000 pieces and
// 1,000 entries (ten times over); with 500 nodes (schema.ts MAX_NODES) about
// 19,500 pieces and 7,100 entries, 4 levels (test/unit/cli-validate.test.ts
// holds that file to these bounds). Raising them raises the time a file made
// of little else may cost.
const MAX_TOKENS = 30_000;
const MAX_ENTRIES = 10_000;
const MAX_DEPTH = 40;

/** What the lexer yields besides pieces of content: blanks, comments, marks that take no text, and the text after a plain scalar's mark. */
const NOT_CONTENT = new Set(['space', 'newline', 'comment', 'byte-order-mark', 'doc-mode', 'flow-error-end', 'scalar-text']);
const ZERO_WIDTH = new Set([CST.DOCUMENT, CST.FLOW_END, CST.SCALAR]);

/**
 * Where the text passes MAX_TOKENS keys, values and punctuation (: - , [ ]
 * and the like), found by the lexer alone. Parsing costs time for each piece
 * and for each error it finds, so a file made of little else is refused
 * before it is parsed.
 */
function tokenLimitProblem(text: string): YamlProblem | undefined {
  let offset = 0;
  let count = 0;
  for (const token of new Lexer().lex(text)) {
    // The text of a plain scalar follows a SCALAR mark, which is counted instead.
    if (!NOT_CONTENT.has(CST.tokenType(token) ?? 'scalar-text') && ++count > MAX_TOKENS) {
      return {
        offset,
        message: `holds more than ${MAX_TOKENS} keys, values and punctuation marks by here; a hosts file has a few thousand at most, so this is not one`,
      };
    }
    if (!ZERO_WIDTH.has(token)) offset += token.length;
  }
  return undefined;
}

function childrenOf(token: CST.Token): (CST.Token | null | undefined)[] {
  if (token.type === 'document') return [token.value];
  if (CST.isCollection(token)) return token.items.flatMap((item) => [item.key, item.value]);
  return [];
}

function tooDeep(offset: number): YamlProblem {
  return { offset, message: `nests deeper than ${MAX_DEPTH} levels here; a hosts file nests four, so this is not one` };
}

/**
 * The first place nested deeper than MAX_DEPTH, found without recursion.
 * Building the document recurses once per level, and a stack that runs out
 * there can take the whole process down rather than end in an error.
 */
function depthProblem(tokens: readonly CST.Token[]): YamlProblem | undefined {
  const stack = tokens.map((token) => ({ token, depth: 0 })).reverse();
  for (let next = stack.pop(); next; next = stack.pop()) {
    const { token, depth } = next;
    if (depth > MAX_DEPTH) return tooDeep(token.offset);
    const children = childrenOf(token);
    for (let i = children.length - 1; i >= 0; i--) {
      const child = children[i];
      if (child) stack.push({ token: child, depth: depth + (CST.isCollection(child) ? 1 : 0) });
    }
  }
  return undefined;
}

/** The documents in `text`, or why it is refused before they are built. */
export function parseYaml(text: string, lines: LineCounter): { docs: Document.Parsed[] } | { refused: YamlProblem } {
  const tooLong = tokenLimitProblem(text);
  if (tooLong) return { refused: tooLong };
  const parser = new Parser(lines.addNewLine);
  let tokens: CST.Token[];
  try {
    tokens = Array.from(parser.parse(text));
  } catch (err) {
    // The parser recurses once for each level it closes at one point (a flow map of keys without commas nests one level per key).
    if (err instanceof RangeError) return { refused: tooDeep(parser.offset) };
    throw err;
  }
  const deep = depthProblem(tokens);
  if (deep) return { refused: deep };
  const composer = new Composer({
    // Merge keys (`<<: *defaults`) are YAML 1.1, but they are how people share settings between hosts.
    merge: true,
    // The parser's own check compares each key with every earlier one; duplicateKeys() below takes one pass.
    uniqueKeys: false,
    // The parser would print its warnings (a list used as a key) on stderr; kha reports them as problems.
    logLevel: 'error',
  });
  return { docs: Array.from(composer.compose(tokens)) };
}

/**
 * What each alias stands for: the last node before it with its anchor, as
 * YAML resolves it. Found in one pass; asking the parser alias by alias
 * walks the whole document each time.
 */
export class Anchors {
  private readonly targets = new Map<Alias, Node | undefined>();

  constructor(doc: Document) {
    const latest = new Map<string, Node>();
    visit(doc, {
      Node: (_, node) => {
        if (isAlias(node)) this.targets.set(node, latest.get(node.source));
        else if (node.anchor) latest.set(node.anchor, node);
      },
    });
  }

  /** The node itself, or what it stands for if it is an alias (undefined when its anchor is missing). */
  deref(node: unknown): unknown {
    return isAlias(node) ? this.targets.get(node) : node;
  }
}

function rangeOf(node: unknown): Node['range'] | undefined {
  return (node as Partial<Node> | null | undefined)?.range ?? undefined;
}

function startOf(node: unknown): number | undefined {
  return rangeOf(node)?.[0];
}

/**
 * Where the document passes MAX_ENTRIES keys and list items, an alias
 * counting as all it repeats. Everything after parsing (converting, checking,
 * locating, suggesting) grows with the number of entries, so a file made of
 * little else is refused before it.
 */
export function entryLimitProblem(doc: Document, anchors: Anchors): YamlProblem | undefined {
  const sizes = new Map<unknown, number>();
  const size = (node: unknown): number => {
    const known = sizes.get(node);
    if (known !== undefined) return known;
    // An alias inside the node it refers to repeats nothing that is not counted already.
    sizes.set(node, 0);
    let n = 0;
    if (isAlias(node)) n = size(anchors.deref(node));
    else if (isMap(node)) for (const pair of node.items) n += 1 + size(pair.key) + size(pair.value);
    else if (isSeq(node)) for (const item of node.items) n += 1 + size(item);
    sizes.set(node, n);
    return n;
  };
  let total = 0;
  let past: number | undefined;
  const add = (n: number, at: number | undefined) => {
    total += n;
    if (total <= MAX_ENTRIES) return undefined;
    past = at ?? 0;
    return visit.BREAK;
  };
  visit(doc, {
    Pair: (_, pair) => add(1, startOf(pair.key) ?? startOf(pair.value)),
    Node: (key, node) => add((typeof key === 'number' ? 1 : 0) + (isAlias(node) ? size(anchors.deref(node)) : 0), startOf(node)),
  });
  if (past === undefined) return undefined;
  return {
    offset: past,
    message: `holds more than ${MAX_ENTRIES} keys and list items by here, counting what aliases repeat; a hosts file has about a thousand at most, so this is not one`,
  };
}

function opens(node: unknown): node is Node {
  return (isScalar(node) && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE')) || (isCollection(node) && node.flow === true);
}

/**
 * For each offset, the innermost quoted value or flow collection ([...],
 * {...}) still open there. One sweep over both in document order: these
 * nest, so the ones open at an offset form a stack.
 */
function openersAt(doc: Document, offsets: readonly number[]): Map<number, Node> {
  const openers: { start: number; end: number; node: Node }[] = [];
  visit(doc, (_, node) => {
    if (opens(node) && node.range) openers.push({ start: node.range[0], end: node.range[1], node });
  });
  const found = new Map<number, Node>();
  const open: typeof openers = [];
  let next = 0;
  for (const offset of [...new Set(offsets)].sort((a, b) => a - b)) {
    for (; next < openers.length && openers[next]!.start < offset; next++) {
      const opener = openers[next]!;
      while (open.length > 0 && open[open.length - 1]!.end < opener.start) open.pop();
      open.push(opener);
    }
    while (open.length > 0 && open[open.length - 1]!.end < offset) open.pop();
    const innermost = open[open.length - 1];
    if (innermost) found.set(offset, innermost.node);
  }
  return found;
}

const NOT_CLOSED = new Set(['MISSING_CHAR', 'BAD_INDENT']);

/**
 * The parser's errors in words a person can act on. A missing closing
 * character is noticed only where the text runs out, often many lines later;
 * the place to fix is where it opened.
 */
function parserProblems(doc: Document): YamlProblem[] {
  const openers = openersAt(doc, doc.errors.filter((e) => NOT_CLOSED.has(e.code)).map((e) => e.pos[0]));
  return doc.errors.map((e) => {
    // The parser's messages may quote the text (a tag, an escape, a token).
    let message = showText(e.message.split('\n')[0] ?? e.message, 200);
    let offset = e.pos[0];
    const opener = NOT_CLOSED.has(e.code) ? openers.get(e.pos[0]) : undefined;
    if (opener?.range) {
      offset = opener.range[0];
      message = isScalar(opener)
        ? `${message}: the quoted text that starts here is not closed`
        : `${message}: the ${isSeq(opener) ? '[ list' : '{ map'} that starts here is not closed, or a line inside it is not indented past its key`;
    }
    if (e.code === 'TAB_AS_INDENT') message = `${message}; indent with spaces`;
    return { offset, message };
  });
}

function kindOf(node: unknown): string {
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node) && node.value === null) return 'empty';
  return 'a single value';
}

/** A key written twice: tools disagree on which one wins. */
function duplicateKeys(map: YAMLMap, out: YamlProblem[]): void {
  const seen = new Set<unknown>();
  for (const pair of map.items) {
    if (!isScalar(pair.key)) continue;
    const { value } = pair.key;
    if (!seen.has(value)) {
      seen.add(value);
      continue;
    }
    const name = value === null ? '' : String(value);
    out.push({ offset: startOf(pair.key) ?? 0, message: `key ${quote(name)} is written twice in this map; keep one (tools disagree on which one wins)` });
  }
}

/** A list or map as a key: JSON and kha know only names as keys, and the parser would turn it into text with a warning. */
function collectionKey(pair: Pair, anchors: Anchors, out: YamlProblem[]): void {
  const key = anchors.deref(pair.key);
  if (!isCollection(key)) return;
  out.push({
    offset: startOf(pair.key) ?? 0,
    message: `${kindOf(key)} is used as a key here; a key is a name like port or lb: write the name before the colon`,
  });
}

/** `<<:` takes maps (or aliases of maps), alone or in a list; anything else makes the parser throw while converting. */
function mergeSources(pair: Pair, anchors: Anchors, out: YamlProblem[]): void {
  // The parser turns a merge key into a symbol: only `<<` written plain, with merge keys on, is one.
  if (!isScalar(pair.key) || typeof pair.key.value !== 'symbol') return;
  const value = anchors.deref(pair.value);
  const sources = isSeq(value) ? value.items : [pair.value];
  for (const source of sources) {
    const target = anchors.deref(source);
    // A missing anchor is reported on its own.
    if (isMap(target) || target === undefined) continue;
    const range = rangeOf(source);
    out.push({
      // An empty value has no text of its own to point at; its key does.
      offset: range && range[0] < range[1] ? range[0] : (startOf(pair.key) ?? 0),
      message: `the merge key << takes a map to copy keys from, or an alias of one (<<: *defaults), or a list of them; this is ${isAlias(source) ? `an alias of ${kindOf(target)}` : kindOf(target)}`,
    });
  }
}

function unresolvedAlias(alias: Alias, anchors: Anchors, out: YamlProblem[]): void {
  // An empty alias (`*` alone) is already a parse error.
  if (alias.source === '' || anchors.deref(alias) !== undefined) return;
  const name = showText(alias.source);
  out.push({
    offset: startOf(alias) ?? 0,
    message: `alias *${name} has no anchor &${name} before it; define the anchor above its first use, or fix the name`,
  });
}

/** Every problem with the YAML itself, in no particular order. */
export function yamlProblems(doc: Document, anchors: Anchors): YamlProblem[] {
  const out = parserProblems(doc);
  visit(doc, {
    Map: (_, map) => duplicateKeys(map, out),
    Pair: (_, pair) => {
      collectionKey(pair, anchors, out);
      mergeSources(pair, anchors, out);
    },
    Alias: (_, alias) => unresolvedAlias(alias, anchors, out),
  });
  return out;
}
