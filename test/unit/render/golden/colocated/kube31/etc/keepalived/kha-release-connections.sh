#!/bin/sh
# Managed by kha 0.1.0 for kube31. `kha apply` rewrites this file.
#
# Run when the VIP leaves this host while the host lives on: by keepalived as
# it stops or goes FAULT (`leaving`) or BACKUP (`backup`, also at every start,
# when nothing left), and by systemd (or, in keepalived's pod, by the
# container's first process) after keepalived ended however it ended
# (`stopped`); and by keepalived as it takes the VIP (`master`) and by
# systemd as haproxy ends (`haproxy-stopped`): see below. Clients that hold connections through
# the VIP (every kubelet's and controller's watch) would otherwise hang: once
# the VIP is gone, nothing haproxy sends on them can be routed, FIN and RST
# included, and a waiting client sends nothing the new holder could reset.
#
# So the VIP goes on lo for a moment: what haproxy sends can leave again, and
# the connections are reset (ss -K) once the new holder has taken the VIP, so
# that clients reconnect to it and not to this host. kha's sysctl file keeps
# this host from answering ARP for an address on lo (arp_ignore=1) and from
# naming it as the sender of its own ARP requests (arp_announce=2). A
# connection this host accepts meanwhile (a client whose ARP cache still
# names it) is reset with the others.
set -u
vip=10.86.13.36
port=8443
holds() { ip -4 -o addr show dev ens192 | grep -q " inet $vip/"; }
onlo() { ip -4 -o addr show dev lo | grep -q " inet $vip/"; }
# The connections to reset: those haproxy holds, and those it already closed
# whose FIN could not leave because the VIP had gone first (FIN-WAIT-1,
# LAST-ACK, CLOSING: a haproxy stopped beside keepalived, as at shutdown when
# nothing orders them): their client has heard nothing either.
held='state established state close-wait state fin-wait-1 state closing state last-ack'

# The holder keeps the VIP on lo too, all along. keepalived takes it off the
# interface as it stops or goes FAULT, and every run below that puts it on
# lo is a new process that comes later (hundreds of milliseconds on a busy
# host); meanwhile clients whose connection haproxy's end closed (haproxy
# dead, or stopped beside keepalived at shutdown) are already asking again,
# and a SYN to an address the host no longer has is lost, retransmitted a
# second later. On lo, the VIP answers them with a RST until the new
# holder's gratuitous ARP reaches them; the run for the VIP's leaving takes
# it off lo. `haproxy-stopped` does the same for a holder whose `master` run
# has not come yet.
case "${1:-}" in
  master|haproxy-stopped) holds && ip -4 addr add "$vip/32" dev lo 2>/dev/null; exit 0 ;;
esac

# As keepalived's child the release may end with keepalived's shutdown, before
# its wait is over (in the lab it came from ExecStopPost, a second late): this
# only starts it, in a session of its own.
if [ "${1:-}" = leaving ] && [ -z "${KHA_RELEASE_DETACHED:-}" ]; then
  KHA_RELEASE_DETACHED=1 setsid "$0" "$@" </dev/null >/dev/null 2>&1 &
  exit 0
fi

case "${1:-}" in
  # A higher priority's advert made this host a backup: the new holder holds the VIP already.
  backup) wait=0.20 ;;
  # keepalived said goodbye with a priority-0 advert, and a backup that hears it takes over
  # within one advert; one that missed it (a lost packet) waits out its master-down interval,
  # and a VIP taken off lo before then leaves clients' SYNs unanswered for a second.
  leaving) wait=0.50 ;;
  # keepalived was killed (SERVICE_RESULT is systemd's, or the pod's first process says it as systemd
  # would): the backup waits out its master-down interval.
  stopped) [ "${SERVICE_RESULT:-}" = success ] && wait=0 || wait=0.50 ;;
  *) echo "usage: $0 leaving|backup|stopped|master|haproxy-stopped" >&2; exit 2 ;;
esac

# However this ends (a signal included), the VIP is not left on lo unless
# this host holds it: a later run also takes off one an interrupted run left
# there.
trap 'holds || ip -4 addr del "$vip/32" dev lo 2>/dev/null' EXIT
trap 'exit 0' TERM INT HUP

# Still, or again, the holder: its connections are good.
holds && exit 0
# Where the VIP leaves, the holder has kept it on lo (`master`): that
# moment on lo answers with a RST (haproxy dead), or takes and then resets
# (haproxy alive), the connections clients open before the new holder's
# gratuitous ARP reached them, instead of letting their SYNs vanish for a
# second's retransmission. Elsewhere only connections left over are worth
# it: BACKUP is also where every start goes, and a backup that stops or
# goes FAULT has nothing to hand over.
onlo || ss -tn $held "( sport = :$port )" | grep -q " $vip:$port " || exit 0

ip -4 addr add "$vip/32" dev lo 2>/dev/null
sleep "$wait"
holds && exit 0
ss -K $held "( sport = :$port )" src "$vip" >/dev/null 2>&1
trap - EXIT
ip -4 addr del "$vip/32" dev lo 2>/dev/null
# What still has the VIP as its own address can never answer again: a client
# on this host that reconnected between the resets and the removal (through
# lo, to this host's haproxy, or still in SYN-SENT from the VIP, whose
# retransmissions the new holder drops as its own address), and that
# connection's haproxy side. Aborted, the client learns at once and asks the
# new holder.
ss -K -t state connected src "$vip" >/dev/null 2>&1
exit 0
