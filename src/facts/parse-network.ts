import { SectionError } from './sections.js';
import type { FirewallFacts, InterfaceFacts } from './types.js';

// Parsers for the network: `ip -o` output, the route to the VIP, firewalld
// and ufw. Each takes the lines of one section.

const LINK = /^(\d+): ([^:@\s]+)(?:@[^:\s]+)?: <([^>]*)>/;
const ADDRESS = /^(\d+): (\S+)\s+inet (\d+\.\d+\.\d+\.\d+)(\/\d+)?\s/;

/**
 * `ip -o link` and `ip -o -4 addr`, joined on the interface index. An
 * interface is up when it is administratively up and has a carrier
 * (LOWER_UP): VRRP cannot leave through a cable that is unplugged.
 */
export function parseInterfaces(links: readonly string[], addresses: readonly string[]): InterfaceFacts[] {
  const byIndex = new Map<string, InterfaceFacts>();
  for (const line of links) {
    const m = LINK.exec(line);
    if (!m) throw new SectionError(`not an "ip -o link" line: "${line}"`);
    const flags = (m[3] ?? '').split(',');
    byIndex.set(m[1] ?? '', { name: m[2] ?? '', up: flags.includes('UP') && flags.includes('LOWER_UP'), addresses: [] });
  }
  for (const line of addresses) {
    const m = ADDRESS.exec(line);
    if (!m) throw new SectionError(`not an "ip -o -4 addr" line: "${line}"`);
    const iface = byIndex.get(m[1] ?? '');
    if (!iface) throw new SectionError(`address on interface ${m[1]}: ${m[2]}, which "ip -o link" did not list`);
    iface.addresses.push(`${m[3]}${m[4] ?? '/32'}`);
  }
  return [...byIndex.values()];
}

/**
 * The interface the kernel sends the VIP's traffic through. On the host
 * that holds the VIP the route is `local ... dev lo`: the interface that
 * carries it is then the one with the address, not lo.
 */
export function parseRoute(lines: readonly string[], vip: string, interfaces: readonly InterfaceFacts[]): string | null {
  const words = lines.join(' ').replace(/\\/g, ' ').trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return null;
  if (['unreachable', 'prohibit', 'blackhole', 'throw'].includes(words[0] ?? '')) return null;
  if (words[0] === 'local') {
    const holder = interfaces.find((i) => i.name !== 'lo' && i.addresses.some((a) => a.split('/')[0] === vip));
    return holder?.name ?? null;
  }
  const dev = words.indexOf('dev');
  const name = dev >= 0 ? words[dev + 1] : undefined;
  if (name === undefined) throw new SectionError(`no "dev" in route "${lines.join(' ')}"`);
  return name;
}

export interface FirewalldSummary {
  installed: boolean;
  running: boolean;
  defaultZone: string;
  zone: string;
}

export function parseFirewalldSummary(lines: readonly string[]): FirewalldSummary {
  const s: FirewalldSummary = { installed: false, running: false, defaultZone: '', zone: '' };
  for (const line of lines) {
    const m = /^(installed|state|default-zone|zone) ?(.*)$/.exec(line.trim());
    if (!m) throw new SectionError(`unexpected line "${line}"`);
    const value = m[2] ?? '';
    if (m[1] === 'installed') s.installed = value === 'yes';
    else if (m[1] === 'state') s.running = value === 'running';
    else if (m[1] === 'default-zone') s.defaultZone = value;
    else s.zone = value;
  }
  if (s.running && (s.defaultZone === '' || s.zone === '')) throw new SectionError('firewalld is running but reported no zone');
  return s;
}

export interface FirewalldZone {
  ports: string[];
  richRules: string[];
  protocols: string[];
}

/**
 * `firewall-cmd --list-all`: a zone line, then `  key: value` lines; rich
 * rules (and, from firewalld 1.0, forward ports) follow their key on lines
 * of their own that start with a tab.
 */
export function parseListAll(lines: readonly string[]): FirewalldZone {
  const values = new Map<string, string[]>();
  let key: string | undefined;
  for (const [i, line] of lines.entries()) {
    const entry = /^ {2}([a-z][a-z -]*):(?: (.*))?$/.exec(line.trimEnd());
    if (entry) {
      key = entry[1] ?? '';
      values.set(key, (entry[2] ?? '').trim() === '' ? [] : [(entry[2] ?? '').trim()]);
    } else if (line.startsWith('\t') && key !== undefined) {
      values.get(key)?.push(line.trim());
    } else if (i !== 0) {
      throw new SectionError(`not a "firewall-cmd --list-all" line: "${line}"`);
    }
  }
  if (!values.has('ports') || !values.has('rich rules')) throw new SectionError('"ports" or "rich rules" missing from "firewall-cmd --list-all"');
  const words = (k: string) => (values.get(k) ?? []).join(' ').split(/\s+/).filter(Boolean);
  const richRules = (values.get('rich rules') ?? []).map((rule) => {
    if (!rule.startsWith('rule ')) throw new SectionError(`not a rich rule: "${rule}"`);
    return rule;
  });
  return { ports: words('ports'), protocols: words('protocols'), richRules };
}

/** `ufw status`: null when it said nothing (ufw answers only root). */
export function parseUfwStatus(lines: readonly string[]): boolean | null {
  const [first] = lines;
  if (first === undefined) return null;
  const m = /^Status: (active|inactive)$/.exec(first.trim());
  if (!m) throw new SectionError(`expected "Status: active|inactive", got "${first}"`);
  return m[1] === 'active';
}

/** `ufw show added`: the rules as commands, e.g. "ufw allow 6443/tcp". */
export function parseUfwAdded(lines: readonly string[]): string[] {
  const rules: string[] = [];
  for (const line of lines) {
    const text = line.trim();
    if (text.startsWith('Added user rules') || text === '(None)') continue;
    if (!text.startsWith('ufw ')) throw new SectionError(`not a ufw rule: "${line}"`);
    rules.push(text);
  }
  return rules;
}

export interface FirewallSections {
  summary: FirewalldSummary;
  runtime?: FirewalldZone;
  permanent?: FirewalldZone;
  ufwActive: boolean | null;
  ufwRules: string[] | null;
}

/** Which firewall governs the host: a running one first, then an installed one. */
export function combineFirewall(s: FirewallSections): FirewallFacts {
  const ufw = s.ufwRules === null ? undefined : { rules: s.ufwRules };
  const firewalld =
    s.summary.running && s.runtime
      ? { defaultZone: s.summary.defaultZone, zone: s.summary.zone, ...s.runtime, ...(s.permanent && { permanent: s.permanent }) }
      : undefined;
  const extras = { ...(firewalld && { firewalld }), ...(ufw && { ufw }) };
  if (s.summary.running) return { backend: 'firewalld', active: true, ...extras };
  if (s.ufwActive === true) return { backend: 'ufw', active: true, ...extras };
  if (s.summary.installed) return { backend: 'firewalld', active: false, ...extras };
  if (s.ufwRules !== null || s.ufwActive !== null) return { backend: 'ufw', active: false, ...extras };
  return { backend: 'none', active: false };
}
