import { SectionError } from './sections.js';
import type { FileFacts, ListenerFacts, ServiceFacts } from './types.js';

// Parsers for the state kha converges: files, directories, services,
// sysctls. Each takes the lines of the section for one requested item.

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A file as its section describes it; its content comes from the probe's one base64 blob. */
export interface FileSection {
  facts: FileFacts;
  /** Bytes to take from the blob: set for a regular file the probe could read. */
  size: number | null;
}

/**
 * A path that exists but is not a regular file (or cannot be read) has no
 * content: the planner then sees a file it must write and the write fails
 * loudly, rather than kha guessing.
 */
export function parseFile(path: string, lines: readonly string[]): FileSection {
  const f: FileFacts = { path, exists: true, mode: null, owner: null, group: null, content: null };
  let size: number | null = null;
  for (const line of lines) {
    const stat = /^stat ([0-7]{3,4}) (\S+) (\S+)$/.exec(line.trim());
    const sized = /^size (\d+)$/.exec(line.trim());
    const word = line.trim();
    if (stat) {
      f.mode = Number.parseInt(stat[1] ?? '', 8);
      f.owner = stat[2] ?? null;
      f.group = stat[3] ?? null;
    } else if (sized) {
      size = Number(sized[1]);
    } else if (word === 'missing') {
      return { facts: { path, exists: false, mode: null, owner: null, group: null, content: null }, size: null };
    } else if (word !== 'not-a-file' && word !== 'unreadable') {
      throw new SectionError(`unexpected line "${line}"`);
    }
  }
  if (f.mode === null) throw new SectionError(`${path} exists but its mode was not reported`);
  return { facts: f, size };
}

/**
 * The readable files' contents, concatenated in the order asked and
 * base64-encoded once (one process instead of one per file), cut back
 * into files by the sizes their sections gave.
 */
export function assignContents(files: readonly FileSection[], lines: readonly string[]): FileFacts[] {
  const b64 = lines.join('').trim();
  if (!BASE64.test(b64) || b64.length % 4 !== 0) throw new SectionError('the file contents are not base64');
  const blob = Buffer.from(b64, 'base64');
  const wanted = files.reduce((n, f) => n + (f.size ?? 0), 0);
  if (blob.length !== wanted) {
    throw new SectionError(`${blob.length} bytes of file contents for ${wanted} bytes of files: a file changed while it was read; run kha again`);
  }
  let at = 0;
  return files.map(({ facts, size }) => {
    if (size === null) return facts;
    const content = blob.subarray(at, at + size).toString('utf8');
    at += size;
    return { ...facts, content };
  });
}

/** `ok NAME` per apiserver that accepted a connection; `unavailable` when the host has no bash to test with. */
export function parseApiservers(lines: readonly string[]): string[] | null {
  if (lines.length === 1 && lines[0]?.trim() === 'unavailable') return null;
  return lines.map((line) => {
    const m = /^ok (\S+)$/.exec(line.trim());
    if (!m) throw new SectionError(`expected "ok NAME", got "${line}"`);
    return m[1] ?? '';
  });
}

export function parseDirectory(path: string, lines: readonly string[]): { path: string; exists: boolean } {
  const answer = lines.join('\n').trim();
  if (answer !== 'yes' && answer !== 'no') throw new SectionError(`expected yes or no, got "${answer}"`);
  return { path, exists: answer === 'yes' };
}

function integer(key: string, value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d+$/.test(value)) throw new SectionError(`${key} is not a number: "${value}"`);
  return Number(value);
}

/**
 * `systemctl show -p ...` lines. Nothing at all means systemd did not
 * answer (not PID 1): the state is unknown, which is not the same as
 * stopped.
 */
export function parseService(name: string, lines: readonly string[]): ServiceFacts {
  if (lines.length === 0) {
    return { name, present: false, active: 'unknown', enabled: 'unknown', mainPid: 0, startedAtMonotonicUs: 0 };
  }
  const props = new Map<string, string>();
  for (const line of lines) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (!m) throw new SectionError(`not a Property=value line: "${line}"`);
    props.set(m[1] ?? '', m[2] ?? '');
  }
  const load = props.get('LoadState');
  const active = props.get('ActiveState');
  if (!load || !active) throw new SectionError('LoadState or ActiveState missing');
  return {
    name,
    present: load !== 'not-found',
    active,
    enabled: props.get('UnitFileState') ?? '',
    mainPid: integer('MainPID', props.get('MainPID')),
    startedAtMonotonicUs: integer('ActiveEnterTimestampMonotonic', props.get('ActiveEnterTimestampMonotonic')),
  };
}

export function parseSysctl(lines: readonly string[]): string | null {
  const [line, ...rest] = lines;
  if (line?.trim() === 'missing' && rest.length === 0) return null;
  const m = line === undefined ? null : /^value ?(.*)$/.exec(line);
  if (!m) throw new SectionError(`expected "value ..." or "missing", got ${JSON.stringify(lines.join('\n'))}`);
  return [m[1] ?? '', ...rest].join('\n').trim();
}

/** `listen <address> <unit or ->` lines; `unavailable` when the host has no ss. */
export function parseListeners(lines: readonly string[]): ListenerFacts[] | null {
  if (lines.includes('unavailable')) return null;
  return lines.map((l) => {
    const [word, address, unit, own] = l.split(' ');
    if (word !== 'listen' || !address || !unit) throw new SectionError(`unexpected line "${l}"`);
    return { address, unit: unit === '-' ? null : unit, own: own === 'own' };
  });
}
