#!/usr/bin/env bash
# Measures the lab: first `up` (with the root fs and apt repository built
# when --fresh removes the cache), a second `up` on the cache, `down`, memory
# per machine and boot-to-SSH per machine. Needs root; leaves no lab running.
# Usage: bench/lab.sh [--fresh] [--lbs N] [--masters N] [--workers N]
set -euo pipefail
cd "$(dirname "$0")/.."
fresh=0
size=()
while [ $# -gt 0 ]; do
  case "$1" in
    --fresh) fresh=1; shift ;;
    --lbs|--masters|--workers) size+=("$1" "$2"); shift 2 ;;
    *) echo "usage: bench/lab.sh [--fresh] [--lbs N] [--masters N] [--workers N]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bench/lab.sh needs root" >&2; exit 1; }
kha() { node bin/kha.js "$@"; }
now() { date +%s.%N; }
secs() { node -e 'console.log((Number(process.argv[2]) - Number(process.argv[1])).toFixed(1))' "$1" "$2"; }
cache="${KHA_LAB_CACHE:-/var/lib/kha/lab-cache}"
out="$(mktemp -d)"
trap 'kha lab down >/dev/null 2>&1 || true; rm -rf "$out"' EXIT

kha lab down >/dev/null
if [ "$fresh" = 1 ]; then rm -rf "$cache"; fi

summary() { # $1 = up json, $2 = status json
  node -e '
    const fs = require("fs");
    const up = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const st = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    console.log(`  root fs: ${up.rootfs.built ? `built in ${up.rootfs.seconds.toFixed(1)} s` : "from cache"}; apt repo: ${up.aptRepo.packages} packages ${up.aptRepo.built ? `downloaded in ${up.aptRepo.seconds.toFixed(1)} s` : "from cache"}`);
    console.log(`  boot to ssh: ${up.machines.map((m) => `${m.name} ${m.bootToSshSeconds.toFixed(1)} s`).join(", ")}`);
    const mem = st.machines.map((m) => m.memoryMiB ?? 0);
    console.log(`  memory (PSS): ${st.machines.map((m) => `${m.name} ${m.memoryMiB} MiB`).join(", ")}; mean ${(mem.reduce((a, b) => a + b, 0) / mem.length).toFixed(1)} MiB, total ${mem.reduce((a, b) => a + b, 0).toFixed(1)} MiB`);
  ' "$1" "$2"
}

t0=$(now); kha lab up "${size[@]}" --json > "$out/up1.json"; t1=$(now)
kha lab status --json > "$out/st1.json"
echo "first up$([ "$fresh" = 1 ] && echo ' (empty cache: root fs + apt repo built)'): $(secs "$t0" "$t1") s"
summary "$out/up1.json" "$out/st1.json"
t0=$(now); kha lab down >/dev/null; t1=$(now)
echo "down: $(secs "$t0" "$t1") s"

t0=$(now); kha lab up "${size[@]}" --json > "$out/up2.json"; t1=$(now)
sleep 5
kha lab status --json > "$out/st2.json"
echo "second up (cache): $(secs "$t0" "$t1") s"
summary "$out/up2.json" "$out/st2.json"
t0=$(now); kha lab down >/dev/null; t1=$(now)
echo "down: $(secs "$t0" "$t1") s"
[ -z "$(ip netns list | grep kha-lab || true)" ] && ! grep -q "${KHA_LAB_DIR:-/var/lib/kha/lab}" /proc/self/mounts && echo "nothing left after down"
