#!/usr/bin/env bash
# Static pods: what a reboot of the VIP holder costs clients, with
# kha-handover handing the VIP over first and without it, beside a
# keepalived stop, in one run on one lab (three masters with podman and the
# kubelet stand-in). Each round: keepalived-stop, reboot with kha-handover
# active (the drill's systemctl reboot asks logind, so its lock is the way
# in), reboot with it stopped (systemd then stops haproxy's and
# keepalived's containers together). Prints each drill's longest outage for
# new connections, failed requests and the held streams' longest stall.
# Needs root; leaves no lab running.
# Usage: bench/static-pods-shutdown.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
[ "$(id -u)" = 0 ] || { echo "bench/static-pods-shutdown.sh needs root" >&2; exit 1; }
. bench/static-pods-lab.sh
out="$(mktemp -d)"
trap 'kha lab down >/dev/null 2>&1 || true; rm -rf "$out"' EXIT

static_pods_lab "$out"

lab="${KHA_LAB_DIR:-/var/lib/kha/lab}"
on() { kha lab exec -- ssh -q -i "$lab/id_ed25519" -o UserKnownHostsFile="$lab/known_hosts" "root@$1" "$2"; }
# Every master's kha-handover on or off: stopping it outside a shutdown hands nothing over.
handover() { for a in 10.77.0.21 10.77.0.22 10.77.0.23; do on "$a" "systemctl $1 kha-handover"; done; }
# How long the rebooted holder's reboot waited for kha-handover: logind's wait for its lock, from the previous boot's journal.
waited() {
  local target address
  target=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).drills[0].target)' "$out/d.json")
  address="10.77.0.2${target#m}"
  on "$address" "journalctl -b -1 -u systemd-logind -o short-unix --no-pager" | awk '/will reboot now/ { a = $1 } /System is rebooting/ && a && !b { b = $1 } END { if (a && b) printf "  %s: logind waited %.2f s for kha-handover'"'"'s lock\n", "'"$target"'", b - a; else print "  logind: no reboot in the previous boot" }'
}

drill() { # $1 label, then verify-failover's arguments
  local label=$1; shift
  # Exit 1 while kha-handover is stopped: status counts that as drift.
  kha status --wait=120 "$hosts" > /dev/null || true
  kha verify-failover "$@" --json "$hosts" > "$out/d.json" || true
  node -e '
    const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).drills[0];
    const s = d.summary;
    const kinds = [...new Set(s.streams.map((x) => x.kind))].map((k) => `${k} ${(Math.max(...s.streams.filter((x) => x.kind === k).map((x) => x.stalledMs)) / 1000).toFixed(2)} s`);
    console.log(`${process.argv[2].padEnd(22)} ${d.passed ? "passed" : "FAILED"}  outage ${(s.longestOutageMs / 1000).toFixed(2)} s (${s.failed} of ${s.sent} failed); streams: ${kinds.join(", ")}`);
  ' "$out/d.json" "$label"
}

for r in $(seq 1 "$rounds"); do
  echo "round $r"
  drill keepalived-stop --drill keepalived-stop
  handover start
  drill "reboot, handover" --drill reboot --destructive
  waited
  handover stop
  drill "reboot, no handover" --drill reboot --destructive
  handover start
done
