import { describe, expect, it } from 'vitest';
import { listensOn } from '../../src/lab/proc-net.js';

// /proc/net/tcp as a booting lab machine shows it: the header, then one line
// per socket (local address:port in hex, state 0A for LISTEN).
const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const line = (n: number, local: string, state: string) =>
  `   ${n}: ${local} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0`;

describe('listensOn', () => {
  it('finds sshd listening on every address', () => {
    expect(listensOn([HEADER, line(0, '00000000:0016', '0A')].join('\n'), 22)).toBe(true);
  });

  it('finds a listener on one address too', () => {
    expect(listensOn([HEADER, line(0, '1F004D0A:0016', '0A')].join('\n'), 22)).toBe(true);
  });

  it('does not take a connection from port 22 (ESTABLISHED, 01) for a listener', () => {
    expect(listensOn([HEADER, line(0, '1F004D0A:0016', '01')].join('\n'), 22)).toBe(false);
  });

  it('does not take another port, nor a remote port 22', () => {
    expect(listensOn([HEADER, line(0, '00000000:1F90', '0A'), '   1: 0100007F:8B4B 1F004D0A:0016 0A 0 0 0 0 0'].join('\n'), 22)).toBe(false);
  });

  it('reads ports above 255 in four hex digits', () => {
    expect(listensOn([HEADER, line(0, '0100007F:20D5', '0A')].join('\n'), 8405)).toBe(true);
  });

  it('reads an empty or absent table as nobody listening', () => {
    expect(listensOn('', 22)).toBe(false);
    expect(listensOn(HEADER, 22)).toBe(false);
  });
});
