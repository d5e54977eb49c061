import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A scratch directory for running a rendered script against stand-ins: `bin` goes first on PATH, `log` is what they record. */
export function stageDir(prefix: string): { dir: string; bin: string; log: string; script: (path: string, text: string) => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const script = (path: string, text: string): void => {
    writeFileSync(path, text);
    chmodSync(path, 0o755);
  };
  return { dir, bin, log: join(dir, 'log'), script };
}
