import type { Command } from 'commander';
import type { CliContext } from '../cli.js';
import { jsonSchema } from '../inventory/schema.js';

/** Prints the JSON Schema of hosts.yaml (the file shipped in schema/ is made by this). */
export function registerSchema(program: Command, ctx: CliContext): void {
  program
    .command('schema')
    .description('print the JSON Schema of hosts.yaml (for editors; the same definition kha validates with)')
    .action(() => {
      ctx.streams.stdout(`${JSON.stringify(jsonSchema(), null, 2)}\n`);
    });
}
