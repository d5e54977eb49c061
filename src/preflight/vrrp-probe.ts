import { shellQuote as q } from '../shell/quote.js';
import { TIMED_OUT_CODE } from '../transport/time-limit.js';

// The remote half of the VRRP path check: what runs on each load balancer
// and how its output reads. Pure: vrrp-path.ts runs it and judges.

/** Where keepalived sends its adverts when unicast is off. */
export const VRRP_GROUP = '224.0.0.18';

/** What a host can probe with, in kha's order of preference. */
export type ProbeTool = { kind: 'python'; path: string } | { kind: 'tcpdump' } | { kind: 'none' };

// RHEL 8 and 9 minimal installs have no python3 command, only the platform python.
const PYTHONS = ['python3', '/usr/libexec/platform-python'] as const;

export const DETECT_COMMAND = [
  `for p in ${PYTHONS.map(q).join(' ')}; do if command -v "$p" >/dev/null 2>&1; then echo "python $p"; exit 0; fi; done`,
  'if command -v tcpdump >/dev/null 2>&1; then echo tcpdump; else echo none; fi',
].join('\n');

/** The tool DETECT_COMMAND found; a path is only ever one kha offered, never text from the host. */
export function parseTool(stdout: string): ProbeTool {
  const line = stdout.trim();
  const python = PYTHONS.find((p) => line === `python ${p}`);
  if (python) return { kind: 'python', path: python };
  return line === 'tcpdump' ? { kind: 'tcpdump' } : { kind: 'none' };
}

export interface ProbeRun {
  /** 16 hex digits, new for every run: only packets carrying it count. */
  token: string;
  /** Every load balancer's address, in one order shared by all hosts of the run. */
  addresses: readonly string[];
  /** This host's index in `addresses`. */
  me: number;
  /** Indexes of the hosts that send (and so confirm what they heard). */
  senders: readonly number[];
  multicast: boolean;
  /** The longest a host listens; a run where every peer confirms ends sooner. */
  seconds: number;
}

// Receives on a raw socket, which is what keepalived reads (after this host's
// own firewall), and on a packet socket, which sees the packet arrive at the
// interface (before it): the pair says where a lost packet was lost.
//
// Sends through a packet socket, beside this host's IP stack: a raw IP send
// would leave a connection-tracking entry that makes the peer's packets look
// like replies ("established") to a stateful firewall here for ten minutes,
// hiding the very drop this probe looks for. The next hop's MAC comes from the
// neighbour table, filled by an empty UDP datagram to the discard port.
//
// The payload is a VRRPv3 header of type 0 for router id 0, which every VRRP
// speaker discards, then the token, the sender's index and a bitmap of the
// peers it has heard. A host stops two rounds after it has heard every peer
// and every peer has heard it (once all peers send), else at the deadline.
const PYTHON = String.raw`import json, select, socket, struct, subprocess, sys, time


def main(a):
    lbs, me, token = a['addresses'], a['me'], bytes.fromhex(a['token'])
    own, group = lbs[me], a['group']
    start = time.monotonic()
    end = start + a['seconds']
    said = set()

    def say(*words):
        line = ' '.join(str(w) for w in words)
        if line not in said:
            said.add(line)
            print(line, flush=True)

    rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    if a['multicast']:
        rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton(own))
    watch = [rx]
    try:
        import ctypes
        wire = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
        # A kernel filter (ip[9] == 112) keeps every other packet out of Python.
        code = ctypes.create_string_buffer(struct.pack('HBBI' * 4, 0x30, 0, 0, 9, 0x15, 0, 1, 112, 6, 0, 0, 0xffff, 6, 0, 0, 0))
        wire.setsockopt(socket.SOL_SOCKET, 26, struct.pack('HL', 4, ctypes.addressof(code)))
        watch.append(wire)
    except (OSError, ImportError) as e:
        say('nowire', e)

    def route(dst):
        w = subprocess.run(['ip', '-o', '-4', 'route', 'get', dst, 'from', own], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True).stdout.split()
        return (w[w.index('dev') + 1], w[w.index('via') + 1] if 'via' in w else dst) if 'dev' in w else None

    def neighbour(ip):
        with open('/proc/net/arp') as f:
            for w in (line.split() for line in f.read().splitlines()[1:]):
                if w[0] == ip and int(w[2], 16) & 2:
                    return bytes.fromhex(w[3].replace(':', ''))
        return None

    targets, unresolved = {}, {}
    for dst in [d for i, d in enumerate(lbs) if i != me] + ([group] if a['multicast'] else []):
        r = route(dst)
        if r is None:
            say('unsent', dst, 'no route from', own)
        elif dst == group:
            targets[dst] = (r[0], bytes.fromhex('01005e000012'))
        else:
            unresolved[dst] = r
    poke = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    poke.bind((own, 0))
    for dst in unresolved:
        try:
            poke.sendto(b'', (dst, 9))
        except OSError:
            pass
    while unresolved and time.monotonic() < start + 1:
        for dst, (dev, hop) in list(unresolved.items()):
            mac = neighbour(hop)
            if mac:
                targets[dst] = (dev, mac)
                del unresolved[dst]
        time.sleep(0.02)
    for dst, (dev, hop) in unresolved.items():
        say('unsent', dst, 'no ARP answer from', hop)

    def packet(dst, heard):
        bits = bytearray((len(lbs) + 7) // 8)
        for i in heard:
            bits[i // 8] |= 1 << (i % 8)
        body = bytes([0x30, 0, 0, 0, 0, 0, 0, 0]) + token + bytes([me]) + bytes(bits)
        h = struct.pack('!BBHHHBBH4s4s', 0x45, 0xc0, 20 + len(body), 0, 0, 255, 112, 0, socket.inet_aton(own), socket.inet_aton(dst))
        s = sum(struct.unpack('!10H', h))
        s = (s & 0xffff) + (s >> 16)
        s = (s & 0xffff) + (s >> 16)
        return h[:10] + struct.pack('!H', ~s & 0xffff) + h[12:] + body

    tx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
    peers = set(range(len(lbs))) - {me}
    senders = set(a['senders']) & peers
    expected = group if a['multicast'] else own
    heard, acked = set(), set()
    rounds_left = None
    next_send = time.monotonic()
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_send:
            if rounds_left == 0:
                break
            if rounds_left is not None:
                rounds_left -= 1
            for dst, (dev, mac) in targets.items():
                try:
                    tx.sendto(packet(dst, heard), (dev, 0x0800, 0, 0, mac))
                except OSError as e:
                    say('unsent', dst, e.strerror)
            next_send = now + 0.1
        for s in select.select(watch, [], [], max(0, min(next_send, end) - now))[0]:
            d = s.recv(4096)
            body = d[(d[0] & 15) * 4:]
            if len(d) < 20 or d[9] != 112 or len(body) < 17 or body[8:16] != token:
                continue
            src, dst = socket.inet_ntoa(d[12:16]), socket.inet_ntoa(d[16:20])
            if s is not rx:
                say('wire', src, dst)
                continue
            say('got', src, dst)
            p = body[16]
            if dst == expected and p in peers and lbs[p] == src:
                heard.add(p)
                if len(body) > 17 + me // 8 and body[17 + me // 8] >> (me % 8) & 1:
                    acked.add(p)
        if rounds_left is None and peers <= senders and peers <= heard and peers <= acked:
            rounds_left = 2


try:
    main(json.loads(sys.argv[1]))
except OSError as e:
    print('fail', e, flush=True)
`;

/** The command that listens (and, with python, sends) for one run on one host. */
export function probeCommand(tool: Exclude<ProbeTool, { kind: 'none' }>, run: ProbeRun): string {
  if (tool.kind === 'python') {
    const args = { ...run, group: VRRP_GROUP };
    return `${q(tool.path)} -c ${q(PYTHON)} ${q(JSON.stringify(args))}`;
  }
  // tcpdump sees packets at the interface only (before the firewall) and cannot send.
  const own = run.addresses[run.me]!;
  const word = (at: number) => `0x${run.token.slice(at * 8, at * 8 + 8)}`;
  const filter = `ip proto 112 and ip[0] = 0x45 and ip[28:4] = ${word(0)} and ip[32:4] = ${word(1)}`;
  // Multicast reaches a capture only on an interface that accepts it: the one
  // the group routes through, put in promiscuous mode (tcpdump's default).
  const device = run.multicast ? `"$(ip -o -4 route get ${VRRP_GROUP} from ${q(own)} 2>/dev/null | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')"` : 'any';
  // Its own complaints and exit status pass through, so a capture that never ran is not read as silence.
  const capture = `(timeout ${run.seconds} tcpdump -nl -i ${device} ${q(filter)} 2>&1; echo "exit $?")`;
  return `${capture} | sed -n -e '/verbose output suppressed/d' -e 's/.* IP \\([0-9.]*\\) > \\([0-9.]*\\): .*/wire \\1 \\2/p' -e 's/^tcpdump: /tcpdump /p' -e '/^exit [0-9]*$/p'`;
}

/** What one host saw and did, from its probe's output. Hops are `source > destination`. */
export interface Observation {
  /** Read on the socket keepalived would read. */
  delivered: Set<string>;
  /** Seen arriving at the network interface. */
  onWire: Set<string>;
  /** Destinations this host could not send to, and why. */
  unsent: Map<string, string>;
  /** Why the host could not watch its interface, when it could not. */
  wireBlind?: string;
  /** Why the probe could not run at all. */
  failed?: string;
}

export function hop(source: string, destination: string): string {
  return `${source} > ${destination}`;
}

export function parseObservation(stdout: string): Observation {
  const seen: Observation = { delivered: new Set(), onWire: new Set(), unsent: new Map() };
  const complaints: string[] = [];
  for (const line of stdout.split('\n')) {
    const [word, first = '', ...rest] = line.trim().split(/\s+/);
    const second = rest[0] ?? '';
    if (word === 'got') seen.delivered.add(hop(first, second));
    else if (word === 'wire') seen.onWire.add(hop(first, second));
    else if (word === 'unsent') seen.unsent.set(first, rest.join(' '));
    else if (word === 'nowire') seen.wireBlind = [first, ...rest].join(' ');
    else if (word === 'fail') seen.failed = [first, ...rest].join(' ');
    else if (word === 'tcpdump') complaints.push([first, ...rest].join(' '));
    // timeout ending the capture is the plan; any other end is a capture that did not run.
    else if (word === 'exit' && first !== '0' && first !== String(TIMED_OUT_CODE)) seen.failed = `tcpdump stopped (exit ${first})${complaints.length ? `: ${complaints.join('; ')}` : ''}`;
  }
  return seen;
}
