#!/bin/bash
# Managed by kha 0.1.0 for cp1. `kha apply` rewrites this file.
#
# The first process of keepalived's container: it runs keepalived (its
# arguments, the Pod's command) and outlives it, as systemd outlives the
# keepalived service. A keepalived that is killed (kill -9, the OOM killer)
# cannot take its VIP off: a backup takes it too, and two hosts answer for it
# until the kubelet has started keepalived again, after its back-off. So when
# keepalived ends, however it ended, this takes the VIP off and runs the
# release script, which resets the connections through it once a backup has
# it (as the service's drop-in does with ExecStopPost).
set -u
vip=10.77.0.10/24
dev=eth0
release=/etc/keepalived/kha-release-connections.sh

for tool in ip ss setsid; do
  command -v "$tool" >/dev/null || echo "kha: this image has no $tool: $([ "$tool" = ip ] && echo 'a killed keepalived leaves the VIP on this host' || echo 'connections held through the VIP are not reset when it leaves this host')" >&2
done

# The same container started again in place (podman's and docker's restart
# policies; a kubelet makes a new one) keeps its /run, and keepalived
# refuses to start over a pid file whose pid is alive, which in a new pid
# namespace is often its own ("daemon is already running", and the VIP has no
# keepalived here until the container is made anew). Nothing else runs in
# this container: a pid file is stale.
rm -f /run/keepalived*.pid

# kha-handover writes this boot's id here once it has handed the VIP over
# because this master is shutting down. The kubelet starts this container
# again; a keepalived started now would take the VIP back (preempting, or
# alone) before the shutdown stops it a second time. So it waits, until the
# next boot or a cancelled shutdown.
boot=$(cat /proc/sys/kernel/random/boot_id)
if [ "$(cat /etc/keepalived/kha-shutting-down 2>/dev/null)" = "$boot" ]; then
  echo "kha: this master is shutting down and handed its VIP over: keepalived waits for the next boot" >&2
  trap 'exit 0' TERM INT
  while [ "$(cat /etc/keepalived/kha-shutting-down 2>/dev/null)" = "$boot" ]; do sleep 1; done
  trap - TERM INT
fi

"$@" &
pid=$!
# The kubelet stops a container with SIGTERM to its first process, this one:
# keepalived gets it and says goodbye (a priority-0 advert), as when its
# service stops, and keepalived.conf's notify_stop runs the release. At
# shutdown, though, systemd stops the container's scope: SIGTERM to every
# process in it, and again to each new one until none is left, which can
# end that release before it resets anything; this one's own, once
# keepalived has gone, comes only after keepalived's shutdown (about 1 s).
# So on the signal this also starts a release of its own, immune to
# SIGTERM (a shell cannot trap a signal ignored on entry, and its ip, ss and
# sleep keep it ignored too), as soon as keepalived has taken the VIP off.
release_once_gone() {
  for _ in $(seq 1 100); do
    ip -4 -o addr show dev "$dev" | grep -q " inet ${vip%/*}/" || break
    sleep 0.02
  done
  KHA_RELEASE_DETACHED=1 exec "$release" leaving
}
# Later signals (the sweep's) are ignored: keepalived is stopping already.
# A trapped signal ends `wait` early: wait again until keepalived is gone.
trap 'trap "" TERM INT; kill -TERM "$pid" 2>/dev/null; release_once_gone &' TERM INT
while :; do
  wait "$pid"
  rc=$?
  kill -0 "$pid" 2>/dev/null || break
done

# From here on SIGTERM is ignored, by this and by what it runs (the sweep above).
trap '' TERM INT
echo "kha: keepalived ended (exit $rc): $vip taken off $dev, held connections reset once a backup has it" >&2
ip -4 addr del "$vip" dev "$dev" 2>/dev/null
# The release waits out a backup's master-down interval unless keepalived
# stopped cleanly (it said goodbye), as systemd's SERVICE_RESULT tells it for
# the service. Its own `leaving` run dies with this container, so this one
# must finish before the container ends.
if [ "$rc" -eq 0 ]; then result=success; else result=signal; fi
SERVICE_RESULT=$result "$release" stopped
exit "$rc"
