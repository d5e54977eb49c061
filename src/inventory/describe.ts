import * as z from 'zod';
import { closest } from './suggest.js';
import { SECRET_KEYS } from './schema.js';
import type { KeyPath } from './locate.js';

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
  if (typeof value === 'number') return Number.isInteger(value) ? 'a whole number' : 'a number';
  if (typeof value === 'boolean') return 'true/false';
  return typeof value;
}

function preview(value: unknown, path: KeyPath): string {
  const key = path[path.length - 1];
  if (typeof key === 'string' && SECRET_KEYS.has(key)) return '';
  if (typeof value === 'string') return ` '${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return ` ${String(value)}`;
  return '';
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a map of keys',
  array: 'a list',
};

function rangeText(issue: { minimum?: unknown; maximum?: unknown }, lo: boolean): string {
  return lo ? String(issue.minimum) : String(issue.maximum);
}

export function describeIssues(root: z.ZodType, issues: readonly z.core.$ZodIssue[]): Finding[] {
  const out: Finding[] = [];
  for (const issue of issues) {
    const path = issue.path as KeyPath;
    if (issue.code === 'unrecognized_keys') {
      const known = Object.keys((unwrap(schemaAt(root, path) ?? root) as z.ZodObject).shape ?? {});
      for (const key of issue.keys) {
        const guess = closest(key, known);
        out.push({
          path: [...path, key],
          atKey: true,
          message: guess
            ? `unknown key '${key}'; did you mean '${guess}'?`
            : `unknown key '${key}'; keys allowed here: ${known.join(', ')}`,
        });
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
          const d = descriptionOf(schemaAt(root, path));
          out.push({ path, atKey: false, message: `is required${d ? ` (${d})` : ''}` });
        } else {
          const expected = EXPECTED[issue.expected] ?? issue.expected;
          out.push({ path, atKey: true, message: `expected ${expected}, got ${kindOf(input)}${preview(input, path)}` });
        }
        break;
      }
      case 'too_small':
      case 'too_big': {
        const lo = issue.code === 'too_small';
        if (issue.origin === 'number') {
          const s = schemaAt(root, path);
          const inner = s ? unwrap(s) : undefined;
          const bag = (inner as { _zod?: { bag?: { minimum?: number; maximum?: number } } } | undefined)?._zod?.bag;
          const range = bag?.minimum !== undefined && bag.maximum !== undefined ? `${bag.minimum}-${bag.maximum}` : undefined;
          out.push({
            path,
            atKey: false,
            message: range
              ? `${String(input)} is out of range; use ${range}`
              : `${String(input)} is too ${lo ? 'small' : 'large'}; use ${lo ? 'at least' : 'at most'} ${rangeText(issue, lo)}`,
          });
        } else if (issue.origin === 'string') {
          out.push({ path, atKey: false, message: lo ? 'is empty' : `is too long (at most ${rangeText(issue, false)} characters)` });
        } else {
          out.push({ path, atKey: false, message: `has too ${lo ? 'few' : 'many'} entries (${lo ? 'at least' : 'at most'} ${rangeText(issue, lo)})` });
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
  return out;
}
