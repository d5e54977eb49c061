#!/usr/bin/env bash
# The quick start's main job, on the example inventory: check it, then render
# every file each host would get. (Until `kha apply` lands, this is the demo.)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${KHA_DEMO_OUT:-out/demo}
node bin/kha.js validate examples/hosts.yaml
rm -rf "$out"
node bin/kha.js render examples/hosts.yaml --out "$out"
echo
echo "== $out/lb1/etc/keepalived/keepalived.conf"
cat "$out/lb1/etc/keepalived/keepalived.conf"
