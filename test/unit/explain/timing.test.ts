import { describe, expect, it } from 'vitest';
import { advertSize, advertTraffic, garpSize, masterDownUs, skewUs } from '../../../src/explain/timing.js';

// The VRRP arithmetic against RFC 5798 §6.1 and RFC 3768 §6.1, to the
// microsecond keepalived's timers hold.

describe('skew time and master down interval', () => {
  it.each([
    // VRRPv3: (256 − p) × advert / 256; keepalived truncates to whole µs.
    [3, 0.2, 150, 82_812, 682_812],
    [3, 0.2, 140, 90_625, 690_625],
    [3, 0.2, 130, 98_437, 698_437],
    [3, 0.1, 150, 41_406, 341_406],
    [3, 0.1, 140, 45_312, 345_312],
    [3, 1, 140, 453_125, 3_453_125],
    // VRRPv2: (256 − p) / 256 s whatever the advert interval.
    [2, 1, 150, 414_062, 3_414_062],
    [2, 1, 140, 453_125, 3_453_125],
    [2, 3, 140, 453_125, 9_453_125],
  ] as const)('VRRPv%i, advert %f s, priority %i: skew %i µs, master down %i µs', (version, advertIntS, priority, skew, down) => {
    expect(skewUs({ version, advertIntS }, priority)).toBe(skew);
    expect(masterDownUs({ version, advertIntS }, priority)).toBe(down);
  });

  it('follows the RFC formulas for every priority a backup can have', () => {
    for (let p = 1; p <= 254; p++) {
      expect(Math.abs(skewUs({ version: 3, advertIntS: 0.2 }, p) - ((256 - p) * 0.2 * 1e6) / 256)).toBeLessThan(1);
      expect(Math.abs(skewUs({ version: 2, advertIntS: 1 }, p) - ((256 - p) * 1e6) / 256)).toBeLessThan(1);
      // The skew never reaches a whole advert: the drills' bound of 3 + 1 adverts holds.
      expect(masterDownUs({ version: 3, advertIntS: 0.2 }, p)).toBeLessThan(4 * 200_000);
      expect(masterDownUs({ version: 2, advertIntS: 1 }, p)).toBeLessThan(4 * 1_000_000);
    }
  });
});

describe('what an advert costs on Ethernet', () => {
  it('VRRPv3 with one VIP: 20 B IPv4 + 8 B VRRP + 4 B, padded to the 64 B minimum frame, 84 B on the wire', () => {
    expect(advertSize(3, 1)).toEqual({ packetBytes: 32, frameBytes: 64, wireBytes: 84 });
  });

  it('VRRPv2 adds the 8 B authentication field, still one minimum frame', () => {
    expect(advertSize(2, 1)).toEqual({ packetBytes: 40, frameBytes: 64, wireBytes: 84 });
  });

  it('grows past the minimum frame only with many addresses', () => {
    expect(advertSize(3, 5)).toEqual({ packetBytes: 48, frameBytes: 66, wireBytes: 86 });
  });

  it('a gratuitous ARP is a minimum frame too', () => {
    expect(garpSize()).toEqual({ packetBytes: 28, frameBytes: 64, wireBytes: 84 });
  });

  it('adverts per second times copies: one per unicast peer', () => {
    const t = advertTraffic({ version: 3, advertIntS: 0.2 }, 2);
    expect(t).toMatchObject({ advertsPerS: 5, copies: 2, packetsPerS: 10, wireBytesPerS: 840 });
    expect(advertTraffic({ version: 3, advertIntS: 0.1 }, 1)).toMatchObject({ packetsPerS: 10, wireBytesPerS: 840 });
    expect(advertTraffic({ version: 2, advertIntS: 1 }, 1)).toMatchObject({ packetsPerS: 1, wireBytesPerS: 84 });
  });
});
