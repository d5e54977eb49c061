import { describe, expect, it } from 'vitest';
import {
  describeSubnet,
  inSubnet,
  intToIpv4,
  ipv4Complaint,
  ipv4ToInt,
  IPV4_CIDR_RE,
  IPV4_RE,
  isHostname,
  networkOf,
  parseCidr,
} from '../../../src/inventory/addresses.js';

describe('IPV4_RE', () => {
  it.each(['0.0.0.0', '10.77.0.11', '192.168.1.1', '255.255.255.255', '1.2.3.4'])('accepts %s', (a) => {
    expect(IPV4_RE.test(a)).toBe(true);
  });

  it.each([
    ['10.77.0.011', 'a leading zero (octal to some tools)'],
    ['010.77.0.1', 'a leading zero in the first octet'],
    ['10.77.0.00', 'a doubled zero'],
    ['10.77.0.256', 'an octet above 255'],
    ['10.77.0', 'three octets'],
    ['10.77.0.1.2', 'five octets'],
    ['10.77.0.1/24', 'a prefix'],
    [' 10.77.0.1', 'a leading space'],
    ['10.77.0.-1', 'a negative octet'],
    ['fd00::1', 'IPv6'],
    ['', 'nothing'],
  ])('refuses %s (%s)', (a) => {
    expect(IPV4_RE.test(a)).toBe(false);
  });
});

describe('IPV4_CIDR_RE', () => {
  it.each(['10.77.0.10', '10.77.0.10/1', '10.77.0.10/9', '10.77.0.10/24', '10.77.0.10/31', '10.77.0.10/32'])('accepts %s', (a) => {
    expect(IPV4_CIDR_RE.test(a)).toBe(true);
  });

  it.each(['10.77.0.10/0', '10.77.0.10/33', '10.77.0.10/024', '10.77.0.10/', '10.77.0.10/2a'])('refuses %s', (a) => {
    expect(IPV4_CIDR_RE.test(a)).toBe(false);
  });
});

describe('ipv4ToInt / intToIpv4', () => {
  it('round-trips the ends of the range and a middle value', () => {
    expect(ipv4ToInt('0.0.0.0')).toBe(0);
    expect(ipv4ToInt('255.255.255.255')).toBe(2 ** 32 - 1);
    expect(ipv4ToInt('10.77.0.11')).toBe(((10 * 256 + 77) * 256 + 0) * 256 + 11);
    for (const a of ['0.0.0.0', '255.255.255.255', '10.77.0.11', '128.0.0.1']) expect(intToIpv4(ipv4ToInt(a))).toBe(a);
  });

  it('stays positive above 128.0.0.0 (no 32-bit sign flip)', () => {
    expect(ipv4ToInt('200.1.2.3')).toBeGreaterThan(0);
  });
});

describe('parseCidr', () => {
  it('splits the address and prefix; no prefix is null', () => {
    expect(parseCidr('10.77.0.10/24')).toEqual({ address: '10.77.0.10', prefix: 24 });
    expect(parseCidr('10.77.0.10')).toEqual({ address: '10.77.0.10', prefix: null });
  });
});

describe('subnet math', () => {
  it('finds the network of a /24, /16, /1', () => {
    expect(intToIpv4(networkOf({ address: '10.77.0.10', prefix: 24 }))).toBe('10.77.0.0');
    expect(intToIpv4(networkOf({ address: '10.77.200.10', prefix: 16 }))).toBe('10.77.0.0');
    expect(intToIpv4(networkOf({ address: '200.77.0.10', prefix: 1 }))).toBe('128.0.0.0');
  });

  it('puts a host in or out of a /24 and a /28', () => {
    expect(inSubnet('10.77.0.255', { address: '10.77.0.10', prefix: 24 })).toBe(true);
    expect(inSubnet('10.77.1.0', { address: '10.77.0.10', prefix: 24 })).toBe(false);
    expect(inSubnet('10.77.0.15', { address: '10.77.0.10', prefix: 28 })).toBe(true);
    expect(inSubnet('10.77.0.16', { address: '10.77.0.10', prefix: 28 })).toBe(false);
  });

  it('a /31 holds exactly two addresses (RFC 3021 point-to-point)', () => {
    const cidr = { address: '10.77.0.10', prefix: 31 };
    expect(describeSubnet(cidr)).toBe('10.77.0.10/31');
    expect(inSubnet('10.77.0.10', cidr)).toBe(true);
    expect(inSubnet('10.77.0.11', cidr)).toBe(true);
    expect(inSubnet('10.77.0.9', cidr)).toBe(false);
    expect(inSubnet('10.77.0.12', cidr)).toBe(false);
  });

  it('a /32 holds only itself', () => {
    const cidr = { address: '10.77.0.10', prefix: 32 };
    expect(describeSubnet(cidr)).toBe('10.77.0.10/32');
    expect(inSubnet('10.77.0.10', cidr)).toBe(true);
    expect(inSubnet('10.77.0.11', cidr)).toBe(false);
  });

  it('names a subnet by its network address', () => {
    expect(describeSubnet({ address: '10.77.0.10', prefix: 24 })).toBe('10.77.0.0/24');
    expect(describeSubnet({ address: '255.255.255.255', prefix: 8 })).toBe('255.0.0.0/8');
  });
});

describe('isHostname', () => {
  it('tells names from addresses', () => {
    expect(isHostname('lb1.example.com')).toBe(true);
    expect(isHostname('lb1')).toBe(true);
    expect(isHostname('10.77.0.11')).toBe(false);
    expect(isHostname('10.77.0')).toBe(false);
    expect(isHostname('lb_1')).toBe(false);
  });

  it('does not take a mistyped address or a date for a name', () => {
    expect(isHostname('10.77.0.1a')).toBe(false);
    expect(isHostname('10.77.0.12.')).toBe(false);
    expect(isHostname('2001-12-14')).toBe(false);
    expect(isHostname('1password.example')).toBe(true);
  });
});

describe('ipv4Complaint', () => {
  it('says IPv6 is not supported, and why', () => {
    expect(ipv4Complaint('fd00::11')).toBe(
      "'fd00::11' is an IPv6 address; kha supports IPv4 only for now (keepalived needs a separate VRRP instance per address family); write an IPv4 address like 10.77.0.11",
    );
    expect(ipv4Complaint('fd00::10/64', true)).toContain('like 10.77.0.10/24');
  });

  it('asks for the address behind a hostname', () => {
    expect(ipv4Complaint('lb1.example.com')).toMatch(/^'lb1.example.com' is a hostname; kha needs an IPv4 address here/);
  });

  it('writes the address without leading zeros', () => {
    expect(ipv4Complaint('010.077.000.011')).toBe(
      "'010.077.000.011' has a leading zero in an octet, which some tools read as octal; write 10.77.0.11",
    );
  });

  it('tells a prefix where none belongs from a bad prefix on the VIP', () => {
    expect(ipv4Complaint('10.77.0.11/24')).toBe("'10.77.0.11/24' has a prefix length; write the bare address here, like 10.77.0.11");
    expect(ipv4Complaint('10.77.0.10/33', true)).toBe("'10.77.0.10/33' has an invalid prefix length /33; use 1-32, or leave it out");
  });

  it('names numbers and empty values', () => {
    expect(ipv4Complaint(10.77)).toBe('10.77 is a number, not an IPv4 address; write four numbers 0-255 separated by dots, like 10.77.0.11');
    expect(ipv4Complaint(null, true)).toBe('is empty; write an IPv4 address like 10.77.0.10/24');
  });

  it('falls back to the form of an address', () => {
    expect(ipv4Complaint('10.77.0.300')).toBe("'10.77.0.300' is not an IPv4 address; write four numbers 0-255 separated by dots, like 10.77.0.11");
  });
});
