#!/bin/bash
# Managed by kha 0.1.0 for cp1. `kha apply` rewrites this file.
#
# kha-handover.service. keepalived and haproxy run as static pods on this
# master, and at shutdown systemd stops every container's scope at once:
# haproxy would die while keepalived is still handing the VIP over, and the
# clients whose ARP still names this host would meet nothing listening until
# a backup's gratuitous ARP. So the master that holds the VIP hands it over
# first: it stops keepalived's container as the kubelet would (SIGTERM to
# kha's wrapper: keepalived says goodbye, a backup takes over, the release
# resets the connections held here) and waits for it to end; haproxy serves
# until then. At shutdown two ways in, whichever comes first:
#   watch  the unit's start. Holds a logind delay lock, so that a reboot or
#          shutdown asked of logind (systemctl reboot, poweroff, shutdown)
#          waits while this hands over on logind's PrepareForShutdown,
#          before systemd stops anything.
#   stop   the unit's stop, for a shutdown that bypasses logind. kha's
#          drop-ins order what stops containers after this unit.
# Once handed over for a shutdown, /etc/keepalived/kha-shutting-down holds this
# boot's id: the kubelet starts keepalived's container again, and kha's
# wrapper then waits instead of running keepalived, which would take the VIP
# back. And one way for `kha apply`:
#   move   before apply rewrites this master's manifests: the same hand-over,
#          so that haproxy's pod restarts on a master no longer holding the
#          VIP. No marker: keepalived starts again at once and rejoins as a
#          backup (with preempt it takes the VIP back after preempt_delay,
#          once its check passes). Fails if keepalived's container does not
#          end.
set -u
vip=10.77.0.10/24
dev=eth0
limit_s=10
marker=/etc/keepalived/kha-shutting-down
boot=$(cat /proc/sys/kernel/random/boot_id)

# $1: why, for the journal; $2: `shutdown` to keep keepalived from running again on this boot.
hand_over() {
  ip -4 -o addr show dev "$dev" | grep -q " inet ${vip%/*}/" || { echo "kha-handover: $1: $dev does not hold ${vip%/*}: nothing to hand over"; return 0; }
  k=$(pgrep -o -x keepalived) || { why='keepalived does not run here'; echo "kha-handover: $1: $why: nothing to hand over"; return 0; }
  p=$(ps -o ppid= -p "$k" | tr -d ' ')
  grep -qF /etc/keepalived/kha-keepalived-pod.sh "/proc/$p/cmdline" 2>/dev/null || { why="keepalived's parent (pid $p) is not /etc/keepalived/kha-keepalived-pod.sh: its pod runs a manifest older than kha's"; echo "kha-handover: $1: $why: nothing to hand over"; return 0; }
  [ "${2:-}" != shutdown ] || echo "$boot" > "$marker"
  kill -TERM "$p"
  for _ in $(seq 1 $((limit_s * 50))); do
    kill -0 "$p" 2>/dev/null || { echo "kha-handover: $1: keepalived's container handed ${vip%/*} over and ended"; return 0; }
    sleep 0.02
  done
  echo "kha-handover: $1: keepalived's container still runs ${limit_s} s after SIGTERM"
  return 1
}

lock=
take_lock() {
  systemd-inhibit --what=shutdown --mode=delay --who=kha-handover --why="hand ${vip%/*} to a backup before this master's pods stop" sleep infinity &
  lock=$!
  for _ in $(seq 1 50); do
    systemd-inhibit --list --no-pager --no-legend 2>/dev/null | grep -q kha-handover && return 0
    kill -0 "$lock" 2>/dev/null || break
    sleep 0.1
  done
  echo "kha-handover: logind gave no delay lock: a reboot hands over only when it stops this unit"
  kill "$lock" 2>/dev/null
  lock=
  return 1
}

watch() {
  exec 3< <(exec busctl --system monitor org.freedesktop.login1 2>&1)
  monitor=$!
  take_lock || { kill "$monitor" 2>/dev/null; exec sleep infinity; }
  # busctl prints each message as a header line (Type=... Endian=...), a line
  # with its Member= and then its arguments; PrepareForShutdown has one
  # boolean: true as a shutdown starts, false if it was cancelled.
  member=
  while IFS= read -r -u 3 line; do
    case "$line" in
      *Type=*Endian=*) member= ;;
      *Member=PrepareForShutdown*) member=yes ;;
      *'BOOLEAN true;'*)
        [ -n "$member" ] || continue
        hand_over "logind announced a shutdown" shutdown
        # Released: logind goes on with the shutdown.
        kill "$lock" 2>/dev/null
        lock= ;;
      *'BOOLEAN false;'*)
        [ -n "$member" ] || continue
        rm -f "$marker"
        echo "kha-handover: the shutdown was cancelled: keepalived runs again here"
        [ -n "$lock" ] || take_lock || true ;;
    esac
  done
  echo "kha-handover: the bus monitor ended: a reboot hands over only when it stops this unit"
  [ -z "$lock" ] || kill "$lock" 2>/dev/null
  kill "$monitor" 2>/dev/null
  exec sleep infinity
}

case "${1:-}" in
  watch) watch ;;
  stop)
    # apply restarting this unit, or someone stopping it by hand, is no shutdown.
    [ "$(systemctl is-system-running 2>/dev/null)" = stopping ] || exit 0
    hand_over "the shutdown stops kha-handover" shutdown ;;
  move) hand_over "kha apply rewrites this master's manifests" ;;
  *) echo "usage: $0 watch|stop|move" >&2; exit 2 ;;
esac
