#!/bin/bash
# Managed by kha 0.1.0 for cp2. `kha apply` rewrites this file.
#
# kha-handover.service's stop. keepalived and haproxy run as static pods on
# this master, and at shutdown systemd stops every container's scope at once:
# haproxy would die while keepalived is still handing the VIP over, and the
# clients whose ARP still names this host would meet nothing listening until
# a backup's gratuitous ARP. kha's drop-ins order what stops containers after
# this unit. So at shutdown this first stops keepalived's container as
# the kubelet would (SIGTERM to kha's wrapper: keepalived says goodbye, a
# backup takes over, the release resets the connections held here) and
# returns once the wrapper has ended; haproxy serves until then.
set -u
vip=10.77.0.10/24
dev=eth0
limit_s=10

# apply restarting this unit, or someone stopping it by hand, is no shutdown.
state=$(systemctl is-system-running 2>/dev/null)
[ "$state" = stopping ] || exit 0
ip -4 -o addr show dev "$dev" | grep -q " inet ${vip%/*}/" || { echo "kha-handover: $dev does not hold ${vip%/*}: nothing to hand over"; exit 0; }
k=$(pgrep -o -x keepalived) || { why='keepalived does not run here'; echo "kha-handover: $why: nothing to hand over"; exit 0; }
p=$(ps -o ppid= -p "$k" | tr -d ' ')
grep -qF /etc/keepalived/kha-keepalived-pod.sh "/proc/$p/cmdline" 2>/dev/null || { why="keepalived's parent (pid $p) is not /etc/keepalived/kha-keepalived-pod.sh: its pod runs a manifest older than kha's"; echo "kha-handover: $why: nothing to hand over"; exit 0; }
kill -TERM "$p"
for _ in $(seq 1 $((limit_s * 50))); do
  kill -0 "$p" 2>/dev/null || { echo "kha-handover: keepalived's container handed ${vip%/*} over and ended; its other containers stop now"; exit 0; }
  sleep 0.02
done
echo "kha-handover: keepalived's container still runs ${limit_s} s after SIGTERM; the shutdown goes on without it"
