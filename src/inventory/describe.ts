import * as z from 'zod';
import { closest } from './suggest.js';
import { SECRET_KEYS } from './schema.js';
import { formatPath, type KeyPath } from './locate.js';
import { gluedSecretHint, quote } from './show.js';

// Turns zod's issues into sentences a person can act on. Messages written
// into the schema itself (addresses, secrets, host names) are kept as they
// are; zod's generic ones are replaced here.

/** Passed as the parse-level error map: marks "zod's generic wording". */
export const GENERIC = '\u0000generic';

export interface Finding {
  path: KeyPath;
  message: string;
  /** Point at the key itself (unknown keys, wrong whole values) rather than the value. */
  atKey: boolean;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable) {
      s = s.unwrap() as z.ZodType;
    } else return s;
  }
}

/** The schema node for a path, for its known keys and description. */
export function schemaAt(root: z.ZodType, path: KeyPath): z.ZodType | undefined {
  let s: z.ZodType | undefined = root;
  for (const part of path) {
    if (!s) return undefined;
    const inner = unwrap(s);
    if (typeof part === 'number' && inner instanceof z.ZodArray) s = inner.element as z.ZodType;
    else if (typeof part === 'string' && inner instanceof z.ZodObject) s = (inner.shape as Record<string, z.ZodType>)[part];
    else return undefined;
  }
  return s;
}

function descriptionOf(schema: z.ZodType | undefined): string | undefined {
  for (let s = schema; s; ) {
    const d = s.meta()?.description;
    if (typeof d === 'string') return d;
    const inner = unwrap(s);
    if (inner === s) return undefined;
    s = inner;
  }
  return undefined;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return 'a string';
  // YAML's .inf and .nan are numbers to JavaScript, but no setting can use them.
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'not-a-number (.nan)' : 'infinity (.inf)';
  if (typeof value === 'number') return Number.isInteger(value) ? 'a whole number' : 'a number';
  if (typeof value === 'boolean') return 'true/false';
  return typeof value;
}

function preview(value: unknown, path: KeyPath): string {
  const key = path[path.length - 1];
  if (typeof key === 'string' && SECRET_KEYS.has(key)) return '';
  if (typeof value === 'string') return ` ${quote(value)}`;
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') return ` ${String(value)}`;
  return '';
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a map of keys',
};

/** A number's allowed range as the schema states it, e.g. `1-255`. */
function rangeOf(schema: z.ZodType | undefined): string | undefined {
  const inner = schema ? unwrap(schema) : undefined;
  if (!(inner instanceof z.ZodNumber)) return undefined;
  const { minValue, maxValue } = inner;
  return minValue !== null && maxValue !== null ? `${minValue}-${maxValue}` : undefined;
}

/** The unit a number is counted in, as its key or description names it. */
function unitOf(root: z.ZodType, path: KeyPath): string | undefined {
  const key = String(path[path.length - 1]);
  const d = descriptionOf(schemaAt(root, path)) ?? '';
  if (key.endsWith('_ms') || d.startsWith('Milliseconds')) return 'milliseconds';
  if (key.endsWith('_s') || d.startsWith('Seconds')) return 'seconds';
  return undefined;
}

/** What to do about a value of the wrong type, where YAML itself is the usual cause. */
function typeHint(root: z.ZodType, path: KeyPath, expected: string, input: unknown): string {
  if (input === null) return '; write a value after the colon, or remove the key';
  if (expected === 'string' && (typeof input === 'number' || typeof input === 'boolean')) return '; put it in quotes to make it text';
  if (typeof input !== 'string') return '';
  const glued = gluedSecretHint(input);
  if (glued) return glued;
  if (expected === 'number' && input.trim() !== '' && Number.isFinite(Number(input))) return '; remove the quotes';
  if (expected === 'number' && /^\d+(?:\.\d+)?\s*[a-z]+$/i.test(input)) {
    const unit = unitOf(root, path);
    return `; write a plain number${unit ? `, in ${unit}` : ''}, without a unit`;
  }
  if (expected === 'boolean' && /^(?:y|n|yes|no|on|off|true|false)$/i.test(input)) {
    return `; YAML 1.2 reads '${input}' as text: write true or false, unquoted`;
  }
  return '';
}

/** Names the keys a map takes, so that "expected a map" says what to write. */
function expectedText(root: z.ZodType, path: KeyPath, expected: string): string {
  const known = knownKeys(root, path);
  if (expected === 'object' && known.length > 0) return `a map with the keys ${known.join(', ')}`;
  if (expected === 'array') return "a list (one '- ' entry per item)";
  return EXPECTED[expected] ?? expected;
}

/** The keys the map at `path` takes; empty when `path` is not a map in the schema. */
function knownKeys(root: z.ZodType, path: KeyPath): string[] {
  const schema = schemaAt(root, path);
  const inner = schema ? unwrap(schema) : undefined;
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : [];
}

/** Keys that an unknown key in the same map probably meant: "is missing" would only repeat the typo. */
function likelyMeant(root: z.ZodType, issues: readonly z.core.$ZodIssue[]): Set<string> {
  const meant = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const known = knownKeys(root, issue.path as KeyPath);
    for (const key of issue.keys) {
      const guess = closest(key, known);
      if (guess) meant.add(formatPath([...(issue.path as KeyPath), guess]));
    }
  }
  return meant;
}

function unknownKey(key: string, known: readonly string[]): string {
  const glued = gluedSecretHint(key);
  if (glued) return `unknown key ${quote(key)}${glued}`;
  const guess = closest(key, known);
  return guess ? `unknown key ${quote(key)}; did you mean '${guess}'?` : `unknown key ${quote(key)}; keys allowed here: ${known.join(', ')}`;
}

/** Drops repeats: one value can fail two bounds that read the same (zod's safe-integer range and the schema's own). */
function distinct(findings: readonly Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const id = JSON.stringify([f.path, f.message]);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

export function describeIssues(root: z.ZodType, issues: readonly z.core.$ZodIssue[]): Finding[] {
  const out: Finding[] = [];
  const meant = likelyMeant(root, issues);
  for (const issue of issues) {
    const path = issue.path as KeyPath;
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(root, path);
      for (const key of issue.keys) {
        out.push({ path: [...path, key], atKey: true, message: unknownKey(key, known) });
      }
      continue;
    }
    if (issue.message !== GENERIC) {
      out.push({ path, message: issue.message, atKey: false });
      continue;
    }
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
      case 'invalid_type': {
        if (input === undefined) {
          if (meant.has(formatPath(path))) break;
          const d = descriptionOf(schemaAt(root, path));
          out.push({ path, atKey: false, message: `is missing; add it${d ? ` (${d})` : ''}` });
        } else {
          out.push({
            path,
            atKey: true,
            message: `expected ${expectedText(root, path, issue.expected)}, got ${kindOf(input)}${preview(input, path)}${typeHint(root, path, issue.expected, input)}`,
          });
        }
        break;
      }
      case 'too_small':
      case 'too_big': {
        const lo = issue.code === 'too_small';
        // 'int' is zod's safe-integer bound, which the schema's own range is always within.
        if (issue.origin === 'number' || issue.origin === 'int') {
          const range = rangeOf(schemaAt(root, path));
          out.push({
            path,
            atKey: false,
            message: range
              ? `${String(input)} is out of range; use ${range}`
              : `${String(input)} is too ${lo ? 'small' : 'large'}; use ${lo ? 'at least' : 'at most'} ${String(lo ? issue.minimum : issue.maximum)}`,
          });
        } else if (issue.origin === 'string') {
          out.push({ path, atKey: false, message: lo ? 'is empty' : `is too long (at most ${String(issue.maximum)} characters)` });
        } else {
          out.push({ path, atKey: false, message: `has too ${lo ? 'few' : 'many'} entries (${lo ? 'at least' : 'at most'} ${String(lo ? issue.minimum : issue.maximum)})` });
        }
        break;
      }
      case 'invalid_value': {
        const options = issue.values.map((v) => String(v));
        const guess = typeof input === 'string' ? closest(input, options) : undefined;
        out.push({
          path,
          atKey: false,
          message: `${preview(input, path).trim() || 'value'} is not one of ${options.join(', ')}${guess ? `; did you mean '${guess}'?` : ''}`,
        });
        break;
      }
      case 'invalid_union': {
        const options = issue.errors
          .flat()
          .map((e) => ('values' in e ? (e.values as unknown[]).map(String).join(', ') : ''))
          .filter(Boolean);
        out.push({
          path,
          atKey: false,
          message: `${preview(input, path).trim() || 'value'} is not allowed${options.length ? `; use one of ${options.join(', ')}` : ''}`,
        });
        break;
      }
      case 'not_multiple_of':
        out.push({ path, atKey: false, message: `${String(input)} must be a multiple of ${String(issue.divisor)}` });
        break;
      default:
        out.push({ path, atKey: false, message: `is not valid${preview(input, path)}` });
    }
  }
  return distinct(out);
}
