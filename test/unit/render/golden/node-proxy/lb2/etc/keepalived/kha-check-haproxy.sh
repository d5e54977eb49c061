#!/bin/bash
# Managed by kha 0.1.0 for lb2. `kha apply` rewrites this file.
#
# keepalived runs this as an unprivileged user to learn whether this host's
# haproxy is alive: `kha-check-haproxy.sh PORT` asks haproxy's own health page
# on 127.0.0.1:PORT, which haproxy answers itself, so the answer depends on
# this host only, never on the apiservers behind it. keepalived's `timeout`
# kills a hanging check. The port comes from keepalived.conf: keepalived runs
# this script every second, so a port written here would change the running
# check before keepalived is reloaded.
port=${1:?usage: kha-check-haproxy.sh PORT}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /kha-health HTTP/1.0\r\n\r\n' >&3
IFS= read -r -t 1 status <&3 || exit 1
case "$status" in
    "HTTP/1."?" 200"*) exit 0 ;;
esac
exit 1
