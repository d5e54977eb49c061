import type { Command } from 'commander';
import { outputFor, type CliContext } from '../cli.js';
import { loadInventoryFile, notValidLine } from '../inventory/load.js';
import { vipCidr } from '../inventory/model.js';
import { renderSpec } from '../render/spec.js';
import { topologyOf } from '../topology/of.js';
import { proxyHosts } from '../topology/roles.js';

export function registerValidate(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check hosts.yaml and print every problem with file:line:column; no SSH, nothing changes')
    .argument('<hosts.yaml>', 'the inventory file')
    .option('--json', 'print the result as JSON (errors as objects with file, line, column, path, message)')
    .addHelpText('after', '\nExit codes: 0 valid, 2 problems found.\nExample: kha validate hosts.yaml')
    .action(async (file: string, opts: { json?: boolean }) => {
      const out = outputFor(ctx, Boolean(opts.json));
      const result = await loadInventoryFile(file, ctx.env);
      if (!result.ok) {
        out.problems(result.problems);
        out.error(notValidLine(file, result));
        out.result({ ok: false, file, errors: result.problems });
        ctx.exit(2);
        return;
      }
      const inv = result.inventory;
      const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
      const nodes = inv.nodes.length > 0 ? `${plural(inv.nodes.length, 'node')}, ` : '';
      if (inv.vip) {
        out.line(`${file} is valid: ${plural(inv.lbs.length, 'load balancer')}, ${plural(inv.masters.length, 'master')}, ${nodes}VIP ${vipCidr(inv)} on port ${inv.port}`);
        out.line(`  keepalived: VRRPv${inv.keepalived.version}, adverts every ${inv.keepalived.advertInt} s, ${inv.keepalived.unicast ? 'unicast' : 'multicast'}, router id ${inv.keepalived.routerId}`);
        out.line(`  primary: ${inv.lbs.filter((h) => h.primary).map((h) => `${h.name} (priority ${h.priority})`).join(', ')}; backups: ${inv.lbs.filter((h) => !h.primary).map((h) => `${h.name} (${h.priority})`).join(', ')}`);
      } else {
        out.line(`${file} is valid: ${plural(inv.masters.length, 'master')}, ${nodes}no VIP: each host's local proxy is its endpoint`);
      }
      if (inv.staticPods) {
        // The Pod manifests through the same in-process schema check as kha render (render/spec.ts);
        // an interface hosts.yaml leaves out does not change their shape, so any name does here.
        const { files } = topologyOf(inv);
        for (const lb of inv.lbs) for (const spec of files.filter((f) => f.check)) renderSpec(spec, spec.context(inv, lb, lb.interface ?? 'eth0'));
        out.line(
          `  static pods: keepalived ${inv.staticPods.keepalivedImage}, haproxy ${inv.staticPods.haproxyImage}, manifests in ${inv.staticPods.manifestsDir}; the manifests pass the Kubernetes Pod schema`,
        );
      }
      if (inv.nodeProxy) {
        const np = inv.nodeProxy;
        const on = [...(np.masters ? ['every master'] : []), ...(inv.nodes.length > 0 ? [plural(inv.nodes.length, 'node')] : [])].join(' and ');
        out.line(`  node proxy: ${np.software} on 127.0.0.1:${np.port} to every apiserver, health on 127.0.0.1:${np.healthPort}, on ${on} (${proxyHosts(inv).length} hosts)`);
      }
      for (const note of inv.notes) out.line(`  note: ${note}`);
      out.result({
        ok: true,
        file,
        summary: {
          load_balancers: inv.lbs.map((h) => ({ name: h.name, address: h.address, priority: h.priority, primary: h.primary })),
          masters: inv.masters.map((h) => ({ name: h.name, address: h.address, apiserver_port: h.apiserverPort })),
          nodes: inv.nodes.map((h) => ({ name: h.name, address: h.address })),
          ...(inv.nodeProxy && {
            node_proxy: {
              software: inv.nodeProxy.software,
              port: inv.nodeProxy.port,
              health_port: inv.nodeProxy.healthPort,
              masters: inv.nodeProxy.masters,
              hosts: proxyHosts(inv).map((h) => h.name),
            },
          }),
          vip: inv.vip ? vipCidr(inv) : null,
          ...(inv.vip && { port: inv.port, vrrp_version: inv.keepalived.version, advert_int: inv.keepalived.advertInt }),
        },
        notes: inv.notes,
      });
    });
}
