import { describe, expect, it } from 'vitest';
import { parseVrrpTransitions, vrrpTransitionsCommand } from '../../../src/observe/keepalived-state.js';

describe('keepalived state changes from the journal', () => {
  it('reads each change with its time, skipping other lines and garbage', () => {
    const lines = [
      JSON.stringify({ __REALTIME_TIMESTAMP: '1795507401123456', MESSAGE: '(VI_1) Entering FAULT STATE', SYSLOG_IDENTIFIER: 'Keepalived_vrrp' }),
      JSON.stringify({ __REALTIME_TIMESTAMP: '1795507401500000', MESSAGE: '(VI_1) Entering MASTER STATE' }),
      JSON.stringify({ __REALTIME_TIMESTAMP: '1795507401600000', MESSAGE: '(VI_1) sent 0 priority' }),
      JSON.stringify({ __REALTIME_TIMESTAMP: 'soon', MESSAGE: '(VI_1) Entering BACKUP STATE' }),
      '-- No entries --',
      '',
    ].join('\n');
    expect(parseVrrpTransitions(lines)).toEqual([
      { epochMs: 1795507401123.456, state: 'FAULT' },
      { epochMs: 1795507401500, state: 'MASTER' },
    ]);
  });

  it('asks the journal from the whole second the moment falls in', () => {
    expect(vrrpTransitionsCommand(1795507401999)).toContain('--since @1795507401 -o json');
  });
});
