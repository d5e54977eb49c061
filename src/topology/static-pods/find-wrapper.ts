import { shellQuote as q } from '../../shell/quote.js';
import { KEEPALIVED_WRAPPER } from './manifests.js';

/**
 * Shell lines, run on the master, that set `$p` to the first process of
 * keepalived's container: kha's wrapper, found as keepalived's parent, so it
 * works with any container runtime. Where there is none (keepalived does not
 * run, or its pod runs a manifest without the wrapper) they set `$why` and
 * run `otherwise`, which must end the script. The keepalived-stop drill
 * signals it as the kubelet does; kha-handover's stop, at shutdown.
 */
export function findKeepalivedWrapper(otherwise: string): string[] {
  return [
    `k=$(pgrep -o -x keepalived) || { why='keepalived does not run here'; ${otherwise}; }`,
    `p=$(ps -o ppid= -p "$k" | tr -d ' ')`,
    `grep -qF ${q(KEEPALIVED_WRAPPER)} "/proc/$p/cmdline" 2>/dev/null || { why="keepalived's parent (pid $p) is not ${KEEPALIVED_WRAPPER}: its pod runs a manifest older than kha's"; ${otherwise}; }`,
  ];
}
