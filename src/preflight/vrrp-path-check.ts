import type { HostFacts } from '../facts/types.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import { describeChange } from '../plan/changes.js';
import { chosenBackend, firewalldVrrpRule, firewallTask } from '../tasks/firewall.js';
import type { Check, PreflightProblem } from './checks.js';
import { keepalivedConverged } from './converged.js';
import { explainLoss, probeVrrpPaths, type VrrpPath } from './vrrp-path.js';
import { VRRP_GROUP } from './vrrp-probe.js';

// VRRP between every pair of load balancers, before keepalived is installed:
// a path that drops it is otherwise found as two VIP holders afterwards.

/**
 * What kha's own firewall task is about to add on `lb` that lets VRRP from
 * `from` in (described for people), or undefined when it adds nothing: on a
 * first build firewalld and ufw drop VRRP until kha's rules are in.
 */
function ruleKhaAdds(inv: Inventory, lb: LoadBalancer, facts: HostFacts, from: LoadBalancer): string | undefined {
  // The firewall task reads neither rendered files, earlier changes nor the services.
  const changes = firewallTask.plan({ inv, lb, facts, files: [], planned: [], services: [] });
  const wanted = firewalldVrrpRule(inv.keepalived.unicast ? { source: from.address } : { destination: VRRP_GROUP });
  const opening = changes.find((c) => (c.kind === 'firewalld.rule' && c.rule.type === 'rich' && c.rule.text === wanted) || c.kind === 'ufw.reload');
  return opening && describeChange(opening);
}

const CHECK = 'vrrp-path';

/** A lost direction as preflight reports it: a stop, unless kha's own firewall rule is what it lacks. */
function judged(inv: Inventory, facts: ReadonlyMap<string, HostFacts>, path: VrrpPath, explanation: string): PreflightProblem {
  if (path.lost === 'sender') return { host: path.from, check: CHECK, message: explanation };
  const stop = { host: path.to, check: CHECK, message: explanation };
  const receiver = inv.lbs.find((lb) => lb.name === path.to)!;
  const sender = inv.lbs.find((lb) => lb.name === path.from)!;
  const f = facts.get(receiver.name);
  if (!f || path.lost === 'between') return stop;
  const expected = ruleKhaAdds(inv, receiver, f, sender);
  if (expected === undefined) return stop;
  const rest =
    path.lost === 'receiver'
      ? `up to ${path.to}'s network interface the path works`
      : `${path.to} could not watch its interface, so a drop between them would look the same: kha's check that each backup stays BACKUP will tell`;
  return {
    host: path.to,
    check: CHECK,
    warning: true,
    message: `${path.from} → ${path.to}: ${chosenBackend(inv, f)} on ${path.to} does not let VRRP from ${path.from} in yet, as expected before kha's first run; kha adds it in the prepare stage (${expected}); ${rest}`,
  };
}

export const vrrpPath: Check = {
  name: CHECK,
  async run({ inv, facts, sessions }) {
    if (keepalivedConverged(inv, facts)) return [];
    const lbs = inv.lbs.map(({ name, address }) => ({ name, address }));
    const report = await probeVrrpPaths(lbs, inv.keepalived.unicast, sessions);
    const lost = report.paths.filter((p) => p.mode === report.mode && !p.delivered);
    return [
      ...lost.map((p) => judged(inv, facts, p, explainLoss(p, report, lbs))),
      ...report.unchecked.map((u) => ({ host: u.host, check: CHECK, warning: true as const, message: u.message })),
    ];
  },
};
