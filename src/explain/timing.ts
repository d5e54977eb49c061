// The VRRP arithmetic, as RFC 5798 §6.1 (VRRPv3) and RFC 3768 §6.1 (VRRPv2)
// define it and keepalived computes it (vrrp.h: VRRP_TIMER_SKEW_CALC,
// VRRP_MS_DOWN_TIMER). Everything is counted in whole microseconds the way
// keepalived counts it, so the figures kha prints are the ones its timers
// hold, to the microsecond, and JSON carries exact decimals.

const US_PER_S = 1_000_000;

/** Adverts a backup misses before it declares the master down (RFC 5798 and RFC 3768 §6.1; keepalived's default down_timer_adverts). */
export const DOWN_TIMER_ADVERTS = 3;

/** The VRRP group's timing as the skew and down timers need it. */
export interface AdvertTiming {
  version: 2 | 3;
  advertIntS: number;
}

function us(s: number): number {
  return Math.round(s * US_PER_S);
}

/**
 * How much longer a backup of `priority` waits than the master's silence
 * alone, so that the highest priority's timer runs out first.
 * VRRPv3: ((256 − priority) × Master_Adver_Interval) / 256, with the interval
 * in centiseconds (RFC 5798 §6.1). VRRPv2: (256 − priority) / 256 seconds,
 * whatever the advert interval (RFC 3768 §6.1).
 */
export function skewUs(t: AdvertTiming, priority: number): number {
  const share = 256 - priority;
  if (t.version === 3) {
    const centiseconds = Math.round(t.advertIntS * 100);
    // keepalived: pri × centiseconds × 625 / 16 µs, which is × 10 000 / 256, truncated.
    return Math.floor((share * centiseconds * 625) / 16);
  }
  return Math.floor((share * US_PER_S) / 256);
}

/** Master_Down_Interval = 3 × advert interval + Skew_Time: how long a backup waits for a master that has gone silent. */
export function masterDownUs(t: AdvertTiming, priority: number): number {
  return DOWN_TIMER_ADVERTS * us(t.advertIntS) + skewUs(t, priority);
}

export function seconds(microseconds: number): number {
  return microseconds / US_PER_S;
}

// What one advert costs on an Ethernet segment. An advert is one IPv4
// packet with no options (keepalived builds the header itself, 20 bytes),
// VRRP's 8-byte header, 4 bytes per virtual address, and in VRRPv2 the
// 8-byte authentication field, always present and holding the password
// with auth_type PASS (RFC 3768 §5.1; keepalived vrrp_pkt_len).
const IPV4_HEADER = 20;
const VRRP_HEADER = 8;
const IPV4_ADDRESS = 4;
const V2_AUTH_DATA = 8;
/** Ethernet's shortest payload: anything shorter is padded. */
const ETHERNET_MIN_PAYLOAD = 46;
/** Destination, source, EtherType (14) and the frame check sequence (4). */
const ETHERNET_FRAMING = 18;
/** Preamble and start delimiter (8) and the inter-frame gap (12): time on the wire that no capture shows. */
const ETHERNET_WIRE_OVERHEAD = 20;
/** An ARP packet for IPv4 over Ethernet. */
const ARP_PACKET = 28;

export interface PacketSize {
  /** The packet Ethernet carries: IPv4 for an advert, ARP for a gratuitous ARP. */
  packetBytes: number;
  /** The Ethernet frame, padding and FCS included: what a capture's frame length shows plus the FCS. */
  frameBytes: number;
  /** The frame plus preamble and inter-frame gap: the wire time it takes. */
  wireBytes: number;
}

function onEthernet(payload: number): PacketSize {
  const frameBytes = Math.max(payload, ETHERNET_MIN_PAYLOAD) + ETHERNET_FRAMING;
  return { packetBytes: payload, frameBytes, wireBytes: frameBytes + ETHERNET_WIRE_OVERHEAD };
}

export function advertSize(version: 2 | 3, virtualAddresses: number): PacketSize {
  return onEthernet(IPV4_HEADER + VRRP_HEADER + IPV4_ADDRESS * virtualAddresses + (version === 2 ? V2_AUTH_DATA : 0));
}

/** A gratuitous ARP: its "IP bytes" are the ARP packet's. */
export function garpSize(): PacketSize {
  return onEthernet(ARP_PACKET);
}

export interface AdvertTraffic {
  /** Adverts the master sends a second; backups send none while it is heard. */
  advertsPerS: number;
  /** Copies of each advert: one per unicast peer, or one to the multicast group. */
  copies: number;
  packetsPerS: number;
  size: PacketSize;
  wireBytesPerS: number;
}

export function advertTraffic(t: AdvertTiming, copies: number, virtualAddresses = 1): AdvertTraffic {
  const advertsPerS = 1 / t.advertIntS;
  const size = advertSize(t.version, virtualAddresses);
  const packetsPerS = advertsPerS * copies;
  return { advertsPerS, copies, packetsPerS, size, wireBytesPerS: packetsPerS * size.wireBytes };
}
