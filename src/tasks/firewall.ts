import type { FirewallBackend, HostFacts } from '../facts/types.js';
import type { Inventory, LoadBalancer } from '../inventory/model.js';
import type { Change } from '../plan/changes.js';
import type { Task } from './context.js';

// VRRP (IP protocol 112) must reach each load balancer from its peers, and
// clients must reach the VIP port. Rules accept VRRP only from the peers when
// adverts are unicast: VRRPv3 has no password, so this is what keeps a stray
// host from taking the VIP.

export const UFW_BEFORE_RULES = '/etc/ufw/before.rules';
const BEGIN = '# kha: VRRP from the other load balancers (begin)';
const END = '# kha: VRRP (end)';

export function chosenBackend(inv: Inventory, facts: HostFacts): FirewallBackend {
  const wanted = inv.security.firewall;
  if (wanted === 'none') return 'none';
  if (wanted === 'auto') return facts.firewall.active ? facts.firewall.backend : 'none';
  return wanted;
}

function vrrpSources(inv: Inventory, lb: LoadBalancer): { source?: string; destination?: string }[] {
  if (!inv.keepalived.unicast) return [{ destination: '224.0.0.18' }];
  return inv.lbs.filter((h) => h.name !== lb.name).map((h) => ({ source: h.address }));
}

export function firewalldVrrpRule(from: { source?: string; destination?: string }): string {
  // The form firewall-cmd --list-rich-rules prints back, so comparing is exact.
  const where = from.source ? `source address="${from.source}"` : `destination address="${from.destination}"`;
  return `rule family="ipv4" ${where} protocol value="vrrp" accept`;
}

/** before.rules with kha's block (re)placed just before the filter table's COMMIT. */
export function withUfwBlock(current: string, lines: readonly string[]): string {
  const kept = current.replace(new RegExp(`${escape(BEGIN)}\\n[\\s\\S]*?${escape(END)}\\n`), '');
  const block = `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
  const commit = kept.search(/^COMMIT\s*$/m);
  if (commit < 0) return `${kept}${block}`;
  return `${kept.slice(0, commit)}${block}${kept.slice(commit)}`;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function normalize(rule: string): string {
  return rule.replace(/\s+/g, ' ').trim();
}

export const firewallTask: Task = {
  name: 'firewall',
  purpose: 'the firewall lets VRRP in from the peers and clients in on the VIP port',
  plan({ inv, lb, facts }) {
    const backend = chosenBackend(inv, facts);
    const changes: Change[] = [];
    if (backend === 'firewalld') {
      const fw = facts.firewall.firewalld;
      const zone = fw?.zone ?? fw?.defaultZone ?? 'public';
      // Open only where both the running and the permanent configuration have
      // it: a runtime-only rule is gone after the next reload or reboot.
      const both = (runtime: string[] | undefined, permanent: string[] | undefined) => {
        const p = new Set((permanent ?? runtime ?? []).map(normalize));
        return new Set((runtime ?? []).map(normalize).filter((r) => p.has(r)));
      };
      const ports = both(fw?.ports, fw?.permanent?.ports);
      if (!ports.has(`${inv.port}/tcp`)) changes.push({ kind: 'firewalld.rule', zone, rule: { type: 'port', port: inv.port, protocol: 'tcp' } });
      const rules = both(fw?.richRules, fw?.permanent?.richRules);
      const protocols = both(fw?.protocols, fw?.permanent?.protocols);
      // A rule or protocol entry that already accepts VRRP from anyone covers ours.
      const acceptsAllVrrp = rules.has('rule protocol value="vrrp" accept') || protocols.has('vrrp');
      for (const from of acceptsAllVrrp ? [] : vrrpSources(inv, lb)) {
        const text = firewalldVrrpRule(from);
        if (!rules.has(normalize(text))) changes.push({ kind: 'firewalld.rule', zone, rule: { type: 'rich', text } });
      }
    } else if (backend === 'ufw') {
      const rule = `${inv.port}/tcp`;
      if (!(facts.firewall.ufw?.rules ?? []).some((r) => normalize(r) === `ufw allow ${rule}`)) changes.push({ kind: 'ufw.allow', rule });
      // ufw has no VRRP protocol keyword, so the rules go into before.rules.
      const lines = vrrpSources(inv, lb).map((f) =>
        f.source ? `-A ufw-before-input -p vrrp -s ${f.source} -j ACCEPT` : `-A ufw-before-input -p vrrp -d ${f.destination} -j ACCEPT`,
      );
      const file = facts.files.find((f) => f.path === UFW_BEFORE_RULES);
      const current = file?.content ?? '';
      const desired = withUfwBlock(current, lines);
      if (desired !== current) {
        changes.push({
          kind: 'file.write',
          path: UFW_BEFORE_RULES,
          mode: file?.mode ?? 0o640,
          content: desired,
          previous: file?.exists ? current : null,
          modeOnly: false,
          secret: false,
          service: 'firewall',
        });
        changes.push({ kind: 'ufw.reload' });
      }
    }
    return changes;
  },
};
