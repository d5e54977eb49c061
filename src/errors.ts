import { redact } from './secret.js';

// The few error classes kha has, and the one place that maps them to exit
// codes (README: 0 success, 1 a host or a drill failed, 2 bad input).

/** One finding in an input file, located so a person can jump to it. */
export interface Problem {
  file: string;
  line: number;
  column: number;
  /** Key path in the document, e.g. `lb[1].address`; empty for the whole file. */
  path: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  const where = `${p.file}:${p.line}:${p.column}`;
  return p.path ? `${where} ${p.path}: ${p.message}` : `${where} ${p.message}`;
}

export abstract class KhaError extends Error {
  abstract readonly exitCode: 1 | 2;
}

/** The user gave kha something it cannot use: a file, a flag, an answer. Exit 2. */
export class InputError extends KhaError {
  readonly exitCode = 2 as const;
  constructor(
    message: string,
    readonly problems: readonly Problem[] = [],
  ) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * A host (or a drill against it) did not do what it had to. Exit 1. Its
 * message often carries what the host printed, and it may be shown by
 * listr2 as well as by kha's own output: known secrets are redacted here.
 */
export class HostError extends KhaError {
  readonly exitCode = 1 as const;
  constructor(
    readonly host: string,
    readonly step: string,
    message: string,
  ) {
    super(redact(message));
    this.name = 'HostError';
  }
}

/** One or more hosts failed a check before anything was changed. Exit 1. */
export class PreflightError extends KhaError {
  readonly exitCode = 1 as const;
  readonly problems: readonly { host: string; check: string; message: string }[];
  constructor(problems: readonly { host: string; check: string; message: string }[]) {
    super(`preflight failed on ${new Set(problems.map((p) => p.host)).size} host(s): nothing was changed on any host`);
    this.problems = problems.map((p) => ({ ...p, message: redact(p.message) }));
    this.name = 'PreflightError';
  }
}

/** A bug in kha or a broken environment on the operator's machine. Exit 1. */
export class InternalError extends KhaError {
  readonly exitCode = 1 as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InternalError';
  }
}

export type ExitCode = 0 | 1 | 2 | 130;

export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof KhaError) return err.exitCode;
  if (err instanceof Error && err.name === 'ExitPromptError') return 130;
  return 1;
}
