#!/bin/bash
# Managed by kha 0.1.0 for cp1. `kha apply` rewrites this file.
#
# keepalived runs this as an unprivileged user to learn whether this host's
# haproxy is alive: `kha-check-haproxy.sh PORT WATCH` asks haproxy's own
# health page on 127.0.0.1:PORT, which haproxy answers itself, so the answer
# depends on this host only, never on the apiservers behind it. The arguments
# come from keepalived.conf: keepalived runs this script every second, so a
# value written here would change the running check before keepalived is
# reloaded.
#
# keepalived runs a check at most once a second (its interval takes whole
# seconds), so one question per run would learn of a dead haproxy up to a
# second late. This run keeps asking, every 0.1 s, for WATCH centiseconds
# (keepalived.conf: the check's timeout less a margin, so that it always ends
# before keepalived's timeout would kill it and count a failure), and fails
# at the second failed answer in a row: a refused connection fails within
# 0.05 s, one reload's blip does not. An answer not there after 0.3 s
# is a failed one, but a question that reaches the end of the watch
# unanswered says nothing; the next run asks again.
port=${1:?usage: kha-check-haproxy.sh PORT WATCH}
watch=${2:?usage: kha-check-haproxy.sh PORT WATCH}

# Centiseconds since boot: builtins only (no process 10 times a second), and
# bash 4.2 (CentOS 7) has no $EPOCHREALTIME.
now() {
    local up
    read -r up _ </proc/uptime
    up=${up/./}
    cs=$((10#$up))
}
# `seconds VAR CS`: CS centiseconds as read and sleep take them, into VAR (no subshell).
seconds() { printf -v "$1" '%d.%02d' $(($2 / 100)) $(($2 % 100)); }

# 0: 200 from haproxy; 1: refused, closed or another answer; 2: no answer within $1 s.
ask() {
    local status rc
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET /kha-health HTTP/1.0\r\n\r\n' >&3
    IFS= read -r -t "$1" status <&3
    rc=$?
    exec 3<&-
    [ "$rc" -gt 128 ] && return 2
    case "$status" in
        "HTTP/1."?" 200"*) return 0 ;;
    esac
    return 1
}

now
end=$((cs + watch))
failed=0
while :; do
    now
    left=$((end - cs))
    [ "$left" -gt 0 ] || exit 0
    wait=$((left < 30 ? left : 30))
    seconds t "$wait"
    ask "$t"
    case $? in
        0) failed=0 ;;
        1) failed=$((failed + 1)) ;;
        2) [ "$wait" -lt 30 ] && exit 0; failed=$((failed + 1)) ;;
    esac
    [ "$failed" -ge 2 ] && exit 1
    pause=$((failed ? 5 : 10))
    now
    [ $((end - cs)) -gt "$pause" ] || exit 0
    seconds t "$pause"
    sleep "$t"
done
