import { describe, expect, it } from 'vitest';
import { missingSans, sanAdvice } from '../../../src/observe/certificate.js';
import { foundByCheck, parseStatsCsv } from '../../../src/observe/haproxy-stats.js';
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
