// Elevation without a pty: `sudo -n` when no password is needed, else
// `sudo -S -p ''` with the password as the first line of stdin. A pty would
// mix stdout with stderr and echo stdin (the password) back.

import type { Secret } from '../secret.js';
import { TransportError } from './errors.js';
import type { ExecResult } from './session.js';
import { shellQuote } from '../shell/quote.js';

/** The inventory's `sudo` for a host. */
export type SudoSetting = false | 'nopasswd' | { password: Secret };

/** How each command is elevated, once the host has been probed. */
export type Elevation = { kind: 'none' } | { kind: 'nopasswd' } | { kind: 'password'; password: Secret };

export interface Elevated {
  command: string;
  stdin: Buffer | undefined;
}

/**
 * sudo runs one program, so the command goes through `sh -c` to keep
 * pipelines and redirections on the root side. With a password, `-k`
 * makes sudo read it every time: a cached credential would otherwise leave
 * the password line in stdin for the command to read.
 */
export function elevate(command: string, stdin: Buffer | undefined, how: Elevation): Elevated {
  switch (how.kind) {
    case 'none':
      return { command, stdin };
    case 'nopasswd':
      return { command: `sudo -n -- sh -c ${shellQuote(command)}`, stdin };
    case 'password': {
      const line = Buffer.from(`${how.password.reveal()}\n`);
      return {
        command: `sudo -k -S -p '' -- sh -c ${shellQuote(command)}`,
        stdin: stdin === undefined ? line : Buffer.concat([line, stdin]),
      };
    }
  }
}

export type RawExec = (command: string, stdin: Buffer | undefined) => Promise<ExecResult>;

/**
 * Finds out before any change whether sudo works for this user, so a
 * missing sudo right stops kha at preflight and not halfway through. A
 * password is only ever sent when sudo asks for one: if `sudo -n` works,
 * that is what every command uses.
 */
export async function probeSudo(host: string, user: string, setting: SudoSetting, run: RawExec): Promise<Elevation> {
  if (setting === false) return { kind: 'none' };
  const passwordless = await tryElevation({ kind: 'nopasswd' }, run);
  if (passwordless.code === 0) return { kind: 'nopasswd' };
  if (setting === 'nopasswd') {
    throw new TransportError(
      host,
      'sudo',
      `sudo -n failed for ${user}: ${oneLine(passwordless.stderr)}. ` +
        `Allow ${user} passwordless sudo (NOPASSWD in sudoers) or give kha a sudo password.`,
    );
  }
  const how: Elevation = { kind: 'password', password: setting.password };
  const withPassword = await tryElevation(how, run);
  if (withPassword.code === 0) return how;
  throw new TransportError(
    host,
    'sudo',
    `sudo refused the password (from ${setting.password.source}) for ${user}: ${oneLine(withPassword.stderr)}`,
  );
}

function tryElevation(how: Elevation, run: RawExec): Promise<ExecResult> {
  const { command, stdin } = elevate('true', undefined, how);
  return run(command, stdin);
}

function oneLine(text: string): string {
  return text.trim().split(/\s*\n\s*/).join(' / ') || 'no message';
}
