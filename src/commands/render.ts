import type { Command } from 'commander';
import { outputFor, type CliContext } from '../cli.js';
import { requireInventory } from '../inventory/load.js';
import { renderAll } from '../render/render.js';
import { writeRendered } from '../render/write.js';

export function registerRender(program: Command, ctx: CliContext): void {
  program
    .command('render')
    .description('write the files each host would get, under DIR/<host>/<path>, with their real modes; no SSH')
    .argument('<hosts.yaml>', 'the inventory file')
    .requiredOption('-o, --out <dir>', 'directory to write into (created if missing)')
    .option('--json', 'print the list of files as JSON')
    .addHelpText(
      'after',
      '\nEach load balancer gets keepalived.conf (0600: it may hold the VRRP password), the haproxy check\n' +
        'script (0755), haproxy.cfg and a systemd drop-in; masters of a dedicated topology get none.\n' +
        'Each host that gets the local proxy (nodes:, node_proxy: in hosts.yaml) gets its configuration\n' +
        'under /etc/kha/node-proxy and kha-node-proxy.service, beside the files of its other roles.\n' +
        'Example: kha render hosts.yaml --out out/ && less out/lb1/etc/keepalived/keepalived.conf',
    )
    .action(async (file: string, opts: { out: string; json?: boolean }) => {
      const out = outputFor(ctx, Boolean(opts.json));
      const inv = await requireInventory(file, ctx.env);
      const hosts = renderAll(inv);
      await writeRendered(opts.out, hosts);
      for (const h of hosts) {
        if (h.files.length === 0) out.line(`${h.host}: no files (a master: kha only reaches its apiserver)`);
        for (const f of h.files) out.line(`${h.host}: ${f.path} (${f.mode.toString(8).padStart(4, '0')}) -> ${opts.out}/${h.host}${f.path}`);
      }
      out.line(`rendered ${hosts.reduce((n, h) => n + h.files.length, 0)} files for ${hosts.length} hosts into ${opts.out}`);
      out.result({
        ok: true,
        out: opts.out,
        hosts: hosts.map((h) => ({
          host: h.host,
          files: h.files.map((f) => ({ path: f.path, mode: f.mode.toString(8).padStart(4, '0'), written: `${opts.out}/${h.host}${f.path}` })),
        })),
      });
    });
}
