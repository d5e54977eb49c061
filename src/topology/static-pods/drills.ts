import { keepalivedDrills, type KeepalivedHandling } from '../../drill/drills.js';
import { findKeepalivedWrapper } from './find-wrapper.js';

// keepalived's drills on a static pod. No systemd unit to stop: the kubelet
// stops a container with SIGTERM to its first process (a new manifest, the
// manifest removed), here kha's wrapper, which passes it to keepalived. The
// drill sends the same from the host, which works with any container
// runtime. A killed keepalived leaves the wrapper to take the VIP off. In
// both, the kubelet starts the container again by itself; the heal waits.

/** How long the heal waits for the kubelet (or podman in the lab) to start keepalived again: a kubelet's first back-off is 10 s. */
const BACK_WAIT_S = 25;

/** The SIGTERM the kubelet sends, to the container's first process: only ever kha's wrapper. */
const STOP_CONTAINER = [...findKeepalivedWrapper('echo "$why" >&2; exit 1'), 'kill -TERM "$p"'].join('\n');

export const KEEPALIVED_POD: KeepalivedHandling = {
  stopped: "keepalived's container (SIGTERM, as the kubelet stops a pod)",
  stop: ["SIGTERM to keepalived's container", STOP_CONTAINER],
  kill: ['kill -9 keepalived in its container', 'pkill -KILL -x keepalived'],
  back: (host) => ({
    host,
    heal: `for i in $(seq 1 ${BACK_WAIT_S * 2}); do pgrep -x keepalived >/dev/null && exit 0; sleep 0.5; done; echo 'keepalived was not started again within ${BACK_WAIT_S} s' >&2; exit 1`,
    healed: 'pgrep -x keepalived >/dev/null',
    whole: 'keepalived running in its pod again',
  }),
  restored: 'waiting for the kubelet to start keepalived again',
};

export const [POD_KEEPALIVED_STOP, POD_KEEPALIVED_KILL] = keepalivedDrills(KEEPALIVED_POD);
