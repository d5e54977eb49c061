#!/usr/bin/env bash
# The quick start's main job: a lab of real machines on this box (2 load
# balancers, 3 masters), kha apply on it, then the failover drills with an
# HTML report. Safe to run again: an existing lab is reused, a converged one
# is left unchanged ("No changes").
set -euo pipefail
cd "$(dirname "$0")/.."
kha() { node bin/kha.js "$@"; }

out=${KHA_DEMO_OUT:-$PWD/out}
mkdir -p "$out"
hosts=/var/lib/kha/lab/hosts.yaml
if kha lab status >/dev/null 2>&1 && [ -f "$hosts" ]; then
  echo "== the lab is up already: reusing it (kha lab down removes it)"
else
  echo "== kha lab up: 2 load balancers, 3 masters (the first run builds a Debian root fs, a few minutes)"
  kha lab up --lbs 2 --masters 3
fi
echo
echo "== kha validate $hosts"
kha validate "$hosts"
echo
echo "== kha apply $hosts"
kha apply --yes "$hosts"
echo
echo "== kha verify-failover $hosts"
kha verify-failover "$hosts" --report "$out/drills.html"
echo
echo "== kha status $hosts"
kha status "$hosts" || true
echo
echo "The drills' report: $out/drills.html"
echo "Take the lab down with: node bin/kha.js lab down"
