import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { missingSans, sanAdvice } from '../../../src/observe/certificate.js';
import { foundByCheck, parseServerLeftUp, parseStatsCsv, serverLeftUpCommand } from '../../../src/observe/haproxy-stats.js';
import { LocalSession } from '../local-session.js';
import { parseVrrpState } from '../../../src/observe/keepalived-state.js';

// haproxy 2.6's CSV, cut to the first columns that matter plus a few after.
const CSV = `# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,
kha_monitor,FRONTEND,,,0,1,4000,3,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,,,,0,0,0,0,0,0,,0,1,3,,,0,0,0,0,,,
kube_apiserver,m1,0,0,2,3,,12,1,2,,0,,0,0,0,0,UP,1,1,0,0,0,40,0,,1,3,1,,12,,2,0,,1,L7OK,200,3,,,,,,,,,,,0,0,,,,,2,OK,
kube_apiserver,m2,0,0,0,1,,0,1,2,,0,,0,0,0,0,DOWN,1,1,0,3,1,5,5,,1,3,2,,0,,2,0,,1,L4CON,,0,,,,,,,,,,,0,0,,,,,-1,Connection refused,
kube_apiserver,BACKEND,0,0,0,1,400,12,1,2,0,0,,0,0,0,0,UP,1,1,0,,0,40,0,,1,3,0,,12,,1,0,,1,,,,,,,,,,,,,,0,0,0,0,0,0,2,,
`;

describe('haproxy statistics', () => {
  it('reads each server with its state, sessions and last check', () => {
    expect(parseStatsCsv(CSV)).toEqual([
      { backend: 'kube_apiserver', server: 'm1', status: 'UP', totalSessions: 12, currentSessions: 2, checkStatus: 'L7OK', checkCode: '200', checkDescription: 'OK' },
      { backend: 'kube_apiserver', server: 'm2', status: 'DOWN', totalSessions: 0, currentSessions: 0, checkStatus: 'L4CON', checkCode: '', checkDescription: 'Connection refused' },
    ]);
  });

  it.each([
    ['L4CON', '', 'Connection refused', 'connection refused'],
    ['L4CON', '', 'No route to host', 'connection refused (No route to host)'],
    ['L4TOUT', '', 'Layer4 timeout', 'no answer: the connection timed out (a firewall dropping the port, or the host down)'],
    ['L6RSP', '', 'Layer6 invalid response', 'something listens there but does not speak TLS like an apiserver (Layer6 invalid response)'],
    ['* L7STS', '500', 'HTTP status check returned code <3C>500<3E>', 'answers /readyz with HTTP 500: not ready (HTTP status check returned code <3C>500<3E>)'],
    ['INI', '', '', 'not checked yet'],
  ])('says what a %s check found', (checkStatus, checkCode, checkDescription, found) => {
    expect(foundByCheck({ backend: 'kube_apiserver', server: 'm1', status: 'DOWN', totalSessions: 0, currentSessions: 0, checkStatus, checkCode, checkDescription })).toBe(found);
  });

  it('refuses text that is not haproxy CSV', () => {
    expect(() => parseStatsCsv('<html>503</html>')).toThrow(/no CSV header/);
  });
});

describe('watching for a server to leave UP, on the host', () => {
  /** haproxy's statistics page on a free local port, as HTTP/1.0 answers it: `csv(n)` for the n-th reading. */
  async function statsPage(csv: (n: number) => string): Promise<{ port: number; server: Server; readings: () => number }> {
    let n = 0;
    const server = createServer((c) => {
      c.once('data', () => c.end(`HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n${csv(n++)}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    return { port: address.port, server, readings: () => n };
  }
  const m2 = (status: string) => CSV.replace(',DOWN,', `,${status},`);

  it('dates the change between the last reading that showed the server UP and the first that did not, on the host clock', async () => {
    const page = await statsPage((n) => m2(n < 3 ? 'UP' : 'DOWN'));
    try {
      const before = Date.now();
      const r = await new LocalSession().exec(serverLeftUpCommand(page.port, 'kube_apiserver', 'm2', 5000), { timeoutMs: 10_000 });
      const left = parseServerLeftUp(r.stdout);
      expect(left?.status).toBe('DOWN');
      expect(page.readings()).toBe(4);
      expect(left!.upAt).toBeGreaterThanOrEqual(before);
      expect(left!.leftAt).toBeGreaterThan(left!.upAt);
      expect(left!.leftAt).toBeLessThanOrEqual(Date.now());
    } finally {
      page.server.close();
    }
  });

  it('says nothing while the server stays UP (going down, "UP 1/2", is still up), whatever the others do', async () => {
    const page = await statsPage((n) => CSV.replace(',UP,1,1,', n % 2 ? ',UP 1/2,1,1,' : ',UP,1,1,'));
    try {
      const r = await new LocalSession().exec(serverLeftUpCommand(page.port, 'kube_apiserver', 'm1', 1000), { timeoutMs: 10_000 });
      expect(r.stdout).toBe('');
      expect(parseServerLeftUp(r.stdout)).toBeUndefined();
      expect(page.readings()).toBeGreaterThanOrEqual(2);
    } finally {
      page.server.close();
    }
  });

  it('keeps watching while nothing listens on the statistics port', async () => {
    const page = await statsPage(() => m2('UP'));
    const port = page.port;
    await new Promise((resolve) => page.server.close(resolve));
    const t = performance.now();
    const r = await new LocalSession().exec(serverLeftUpCommand(port, 'kube_apiserver', 'm2', 300), { timeoutMs: 10_000 });
    expect(performance.now() - t).toBeGreaterThanOrEqual(300);
    expect(r.stdout).toBe('');
  });
});

describe('keepalived state', () => {
  it('is the last state the instance entered', () => {
    const log = '(kha_apiserver) Entering BACKUP STATE (init)\n(kha_apiserver) Entering MASTER STATE\n(kha_apiserver) Entering FAULT STATE\n';
    expect(parseVrrpState(log)).toBe('FAULT');
    expect(parseVrrpState('')).toBe('UNKNOWN');
  });
});

describe('certificate SANs', () => {
  it('names the VIP and the DNS name when a kubeadm certificate lacks them', () => {
    const sans = { dns: ['kubernetes', 'kubernetes.default'], ip: ['10.96.0.1', '192.168.122.11'] };
    expect(missingSans(sans, ['192.168.122.10', 'kubeapi.huatai.me'])).toEqual(['192.168.122.10', 'kubeapi.huatai.me']);
    expect(missingSans({ dns: ['KubeAPI.huatai.me'], ip: ['192.168.122.10'] }, ['192.168.122.10', 'kubeapi.huatai.me'])).toEqual([]);
    expect(missingSans({ dns: ['kubeapi.huatai.me'], ip: [] }, ['192.168.122.10', 'kubeapi.huatai.me'])).toEqual(['192.168.122.10']);
    const advice = sanAdvice(['192.168.122.10'], 'hosts.yaml');
    expect(advice).toContain('apiServer.certSANs: ["192.168.122.10"]');
    expect(advice).toContain('kha kubeadm hosts.yaml');
  });
});
