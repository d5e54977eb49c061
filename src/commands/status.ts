import type { Command } from 'commander';
import { outputFor, type CliContext } from '../cli.js';
import { requireInventory } from '../inventory/load.js';
import { InputError } from '../errors.js';
import type { WaitResult } from '../status/wait.js';
import type { LbStatus, ProxyStatus } from '../status/collect.js';
import type { Inventory } from '../inventory/model.js';
import { runInOperatorNetns } from './netns.js';

const DEFAULT_WAIT_S = 600;
const MAX_WAIT_S = 3600;

/** `--wait` alone, or `--wait SECONDS` / `--wait=SECONDS`: a whole number of seconds from 1 to an hour. */
export function parseWait(value: string | boolean): number {
  if (value === true) return DEFAULT_WAIT_S;
  const text = String(value);
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_WAIT_S) {
    throw new InputError(`--wait ${JSON.stringify(text.slice(0, 20))}: give whole seconds from 1 to ${MAX_WAIT_S} (or --wait alone for ${DEFAULT_WAIT_S} s)`);
  }
  return n;
}

export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('who holds the VIP, keepalived and haproxy state per load balancer, backend health, drift, certificate SANs')
    .argument('<hosts.yaml>', 'the inventory file')
    .option('--wait [seconds]', `first wait until every load balancer's haproxy (without a VIP, every local proxy's) counts every master UP (default ${DEFAULT_WAIT_S} s, at most ${MAX_WAIT_S})`)
    .option('--json', 'print the status as JSON')
    .addHelpText(
      'after',
      '\nChanges nothing. Exit codes: 0 healthy, 1 degraded (each problem is listed) or --wait ran out, 2 bad input.\n' +
        'Example, after the endpoint is built: kubeadm init --config kubeadm-config.yaml --upload-certs && kha status hosts.yaml --wait',
    )
    .action(async (file: string, flags: { json?: boolean; wait?: string | boolean }) => {
      const waitSeconds = flags.wait === undefined ? undefined : parseWait(flags.wait);
      const inv = await requireInventory(file, ctx.env);
      const inner = await runInOperatorNetns(inv, ctx.argv, ctx.env);
      if (inner !== null) return ctx.exit(inner);
      const out = outputFor(ctx, Boolean(flags.json));
      // Loaded only where the hosts are reachable (see apply.ts).
      const { collectStatus } = await import('../status/collect.js');
      let waited: WaitResult | undefined;
      if (waitSeconds !== undefined) {
        const { waitForMasters } = await import('../status/wait.js');
        out.line(`waiting up to ${waitSeconds} s for every master to be UP in every ${inv.vip ? "load balancer's haproxy" : 'local proxy'}`);
        waited = await waitForMasters(inv, waitSeconds, (l) => out.line(`  ${l}`));
        out.line(waited.ok ? `every master UP after ${(waited.waitedMs / 1000).toFixed(1)} s\n` : `still not UP after ${waitSeconds} s: ${Object.entries(waited.masters).filter(([, v]) => v !== 'UP').map(([m, v]) => `${m} (${v})`).join(', ')}\n`);
      }
      const st = await collectStatus(inv);
      if (st.holders.length > 1) out.line(`!!! SPLIT BRAIN: ${st.holders.join(', ')} all hold the VIP ${st.vip} !!!\n`);
      out.line(
        st.vip === null
          ? "No VIP (hosts.yaml lists no lb): each host's local proxy is its endpoint"
          : `VIP ${st.vip}: ${st.holders.length === 1 ? `held by ${st.holders[0]}` : st.holders.length === 0 ? 'held by nobody' : `held by ${st.holders.join(' and ')}`}`,
      );
      out.line('');
      if (st.lbs.length > 0) lbTable(st.lbs, (l) => out.line(l));
      if (st.apiservers.length > 0) out.line(`masters behind ${st.vip === null ? 'the local proxies' : 'haproxy'}: ${st.apiservers.map((m) => `${m.host} (${m.roles.join(', ')})`).join(', ')}`);
      if (st.proxies.length > 0) out.line(`\n${proxyLines(st.proxies, inv).join('\n')}`);
      out.line('');
      const c = st.certificate;
      if (!c.error) out.line(`certificate ${st.certificateRead}: CN=${c.subject}, SANs ${[...c.sans.ip, ...c.sans.dns].join(', ') || 'none'}`);
      if (c.advice) out.line(c.advice);
      out.line('');
      out.line(st.healthy ? 'healthy' : `degraded:\n${st.problems.map((p) => `  - ${p}`).join('\n')}`);
      out.result({ ...st, ...(waited ? { wait: waited } : {}) });
      ctx.exit(st.healthy && (waited === undefined || waited.ok) ? 0 : 1);
    });
}

/** The load balancers, a row each. */
function lbTable(lbs: readonly LbStatus[], line: (text: string) => void): void {
  const rows = lbs.map((s) => [
    s.host,
    s.roles.join(', '),
    s.error ? 'unreachable' : s.vrrp,
    s.error ? '-' : `${s.effectivePriority}/${s.priority}`,
    s.services.keepalived ?? '-',
    s.services.haproxy ?? '-',
    s.backends.map((b) => `${b.server}:${b.status}`).join(' ') || '-',
    s.drift.length ? `${s.drift.length} to apply` : s.error ? '-' : 'none',
  ]);
  const head = ['host', 'roles', 'vrrp', 'priority', 'keepalived', 'haproxy', 'backends', 'drift'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) line(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  for (const s of lbs) for (const d of s.drift) line(`  ${s.host}: would ${d}`);
}

/** Up to this many proxy hosts get a line each; past it, counts and the hosts that need a look. */
const PROXY_LINES = 10;

function proxyLines(proxies: readonly ProxyStatus[], inv: Inventory): string[] {
  const np = inv.nodeProxy!;
  const well = (p: ProxyStatus) => !p.error && p.service === 'active' && p.health === '200' && p.drift.length === 0;
  const backends = (p: ProxyStatus) => (p.backends.length > 0 ? `, backends ${p.backends.map((b) => `${b.server}:${b.status}`).join(' ')}` : '');
  const line = (p: ProxyStatus) =>
    `  ${p.host}: ${p.error ? `unreachable (${p.error})` : `kha-node-proxy ${p.service}, health ${p.health}${backends(p)}, drift ${p.drift.length ? `${p.drift.length} to apply` : 'none'}`}`;
  const head = `local proxies (${np.software} on 127.0.0.1:${np.port}): ${proxies.filter(well).length} of ${proxies.length} serving an apiserver, as hosts.yaml says`;
  const shown = proxies.length <= PROXY_LINES ? proxies : proxies.filter((p) => !well(p));
  return [head, ...shown.map(line), ...proxies.flatMap((p) => p.drift.map((d) => `  ${p.host}: would ${d}`))];
}
