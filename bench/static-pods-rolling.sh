#!/usr/bin/env bash
# Static pods: what a configuration change rolled by `kha apply` costs
# clients. Each round changes haproxy.check_inter_ms, so every master's
# haproxy manifest is rewritten and its pod restarted, the VIP holder last
# (after kha hands the VIP to another master: move-vip). Through the VIP, a
# watch held on the stand-in's /watch (an event every 100 ms, watched again
# 50 ms after each end) and a new request every 50 ms, for as long as apply
# runs. Prints per round the watch's longest gap between events, the
# connections it lost, and the requests that failed; then a keepalived-stop
# drill per three rounds, the planned move the change now makes, beside it.
# Needs root; leaves no lab running.
# Usage: bench/static-pods-rolling.sh [ROUNDS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-10}"
[ "$(id -u)" = 0 ] || { echo "bench/static-pods-rolling.sh needs root" >&2; exit 1; }
. bench/static-pods-lab.sh
out="$(mktemp -d)"
trap 'kill -KILL -- -$(cat "$out/loops.pid" 2>/dev/null) 2>/dev/null || true; kha lab down >/dev/null 2>&1 || true; rm -rf "$out"' EXIT

static_pods_lab "$out"

vip=https://10.77.0.10:8443
# Both loops in one process group of the controller's namespace, stamping into files.
loops() {
  setsid node bin/kha.js lab exec -- bash -c "
    while :; do curl -skN --connect-timeout 1 $vip/watch | while IFS= read -r l; do echo \"\$(date +%s.%N) event\"; done; echo \"\$(date +%s.%N) ended\"; sleep 0.05; done > $out/watch &
    while :; do t=\$(date +%s.%N); c=\$(curl -sk -o /dev/null -w '%{http_code}' --max-time 1 $vip/readyz); echo \"\$t \$c\"; sleep 0.05; done > $out/probe &
    wait" </dev/null >/dev/null 2>&1 &
  echo $! > "$out/loops.pid"
  # Killed at the round's end: no job notice.
  disown
}
stop_loops() { kill -KILL -- "-$(cat "$out/loops.pid")" 2>/dev/null || true; rm -f "$out/loops.pid"; }

figures() { # $1 label
  node -e '
    const fs = require("fs");
    const [watch, probe, label] = process.argv.slice(1);
    const lines = fs.readFileSync(watch, "utf8").trim().split("\n").map((l) => l.split(" "));
    const events = lines.filter(([, w]) => w === "event").map(([t]) => Number(t));
    const gap = Math.max(...events.slice(1).map((t, i) => t - events[i]));
    const ended = lines.filter(([, w]) => w === "ended").length;
    const samples = fs.readFileSync(probe, "utf8").trim().split("\n").map((l) => l.split(" ")).filter((w) => w.length === 2).map(([t, c]) => ({ t: Number(t), ok: c === "200" }));
    let longest = 0, since;
    for (const s of samples) {
      if (!s.ok && since === undefined) since = s.t;
      if (s.ok && since !== undefined) { longest = Math.max(longest, s.t - since); since = undefined; }
    }
    const failed = samples.filter((s) => !s.ok).length;
    console.log(`${label.padEnd(28)} watch: longest gap ${gap.toFixed(2)} s, ${ended} connection(s) ended, ${events.length} events; requests: ${failed} of ${samples.length} failed, longest outage ${longest.toFixed(2)} s`);
    // Where the longest gap was: its last event, the ends of connections within it, its next event.
    const at = (t) => new Date(t * 1000).toISOString().slice(11, 23);
    const end = events.find((t, i) => i > 0 && t - events[i - 1] === gap);
    const ends = lines.filter(([t, w]) => w === "ended" && Number(t) >= end - gap && Number(t) <= end).map(([t]) => at(Number(t)));
    console.log(`${"".padEnd(28)} (gap from ${at(end - gap)} to ${at(end)}${ends.length ? `, connection ended at ${ends.join(", ")}` : ""})`);
  ' "$out/watch" "$out/probe" "$1"
}

holder() { { kha status --json "$hosts" || true; } | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).holders.join(" and ") || "none"))'; }

for r in $(seq 1 "$rounds"); do
  inter=$(( r % 2 == 1 ? 400 : 300 ))
  { cat "$hosts"; printf 'haproxy:\n  check_inter_ms: %s\n' "$inter"; } > "$out/hosts-changed.yaml"
  before=$(holder)
  loops; sleep 1
  kha apply --yes "$out/hosts-changed.yaml" > "$out/apply.out" || { echo "round $r: apply failed"; tail -n 20 "$out/apply.out"; exit 1; }
  sleep 2; stop_loops
  figures "round $r: rolled, $before held"
  grep -q "hand 10.77.0.10 to another master" "$out/apply.out" || echo "  (apply handed nothing over: no manifest of the holder changed?)"
  if (( r % 3 == 0 )); then
    loops; sleep 1
    kha verify-failover --drill keepalived-stop --json "$out/hosts-changed.yaml" > /dev/null || echo "  keepalived-stop drill failed"
    sleep 2; stop_loops
    figures "round $r: keepalived-stop"
  fi
done
