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

"$@" &
pid=$!
# The kubelet stops a container with SIGTERM to its first process, this one:
# keepalived gets it and says goodbye (a priority-0 advert), as when its
# service stops. A trapped signal ends `wait` early: wait again until
# keepalived is gone.
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
while :; do
  wait "$pid"
  rc=$?
  kill -0 "$pid" 2>/dev/null || break
done

echo "kha: keepalived ended (exit $rc): $vip taken off $dev, held connections reset once a backup has it" >&2
ip -4 addr del "$vip" dev "$dev" 2>/dev/null
# The release waits out a backup's master-down interval unless keepalived
# stopped cleanly (it said goodbye), as systemd's SERVICE_RESULT tells it for
# the service. Its own `leaving` run dies with this container, so this one
# must finish before the container ends.
if [ "$rc" -eq 0 ]; then result=success; else result=signal; fi
SERVICE_RESULT=$result "$release" stopped
exit "$rc"
