import { quote, showText } from './show.js';

// IPv4 parsing and the messages for the ways people get an address wrong.
// Pure functions: the schema, the semantic checks and the templates share them.

/** Dotted quad without leading zeros (010 would be octal to some tools, decimal to others). */
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4_SOURCE = `${OCTET}(?:\\.${OCTET}){3}`;
export const IPV4_RE = new RegExp(`^${IPV4_SOURCE}$`);
export const IPV4_CIDR_RE = new RegExp(`^${IPV4_SOURCE}(?:/(?:3[0-2]|[12]\\d|[1-9]))?$`);

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** A name, not a mistyped address (10.77.0.1a) or a date: it has a letter, and does not start like an address. */
export function isHostname(value: string): boolean {
  return HOSTNAME_RE.test(value) && /[A-Za-z]/.test(value) && !/^\d+\.\d+\.\d+\./.test(value);
}

function looksLikeIpv6(value: string): boolean {
  return /^[0-9A-Fa-f:.]+(?:\/\d+)?$/.test(value) && value.includes(':');
}

/** Why a string is not an IPv4 address, in words a person can act on. */
export function ipv4Complaint(input: unknown, withPrefix = false): string {
  const example = withPrefix ? 'like 10.77.0.10/24' : 'like 10.77.0.11';
  if (input === null) return `is empty; write an IPv4 address ${example}`;
  if (typeof input === 'number') return `${input} is a number, not an IPv4 address; write four numbers 0-255 separated by dots, ${example}`;
  if (typeof input !== 'string') return `expected an IPv4 address ${example}`;
  const [addr = '', prefix] = input.split('/');
  if (looksLikeIpv6(input)) {
    return `${quote(input)} is an IPv6 address; kha supports IPv4 only for now (keepalived needs a separate VRRP instance per address family); write an IPv4 address ${example}`;
  }
  if (isHostname(addr)) {
    return `${quote(input)} is a hostname; kha needs an IPv4 address here, because keepalived peers and haproxy servers are configured by address (resolve it and write the address)`;
  }
  if (prefix !== undefined && IPV4_RE.test(addr)) {
    return withPrefix
      ? `${quote(input)} has an invalid prefix length /${showText(prefix)}; use 1-32, or leave it out`
      : `${quote(input)} has a prefix length; write the bare address here, ${example}`;
  }
  if (/^\d+(\.\d+){3}$/.test(addr) && addr.split('.').some((o) => o.length > 1 && o.startsWith('0'))) {
    return `${quote(input)} has a leading zero in an octet, which some tools read as octal; write ${addr.split('.').map((o) => String(Number(o))).join('.')}`;
  }
  return `${quote(input)} is not an IPv4 address; write four numbers 0-255 separated by dots, ${example}`;
}

export function ipv4ToInt(addr: string): number {
  return addr.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export interface Cidr {
  address: string;
  prefix: number;
}

/** Splits `a.b.c.d[/p]`; the caller has already checked the syntax. */
export function parseCidr(value: string): { address: string; prefix: number | null } {
  const [address = '', prefix] = value.split('/');
  return { address, prefix: prefix === undefined ? null : Number(prefix) };
}

export function networkOf(cidr: Cidr): number {
  const size = 2 ** (32 - cidr.prefix);
  return Math.floor(ipv4ToInt(cidr.address) / size) * size;
}

export function inSubnet(address: string, cidr: Cidr): boolean {
  const size = 2 ** (32 - cidr.prefix);
  return networkOf(cidr) === Math.floor(ipv4ToInt(address) / size) * size;
}

export function describeSubnet(cidr: Cidr): string {
  return `${intToIpv4(networkOf(cidr))}/${cidr.prefix}`;
}
