#!/usr/bin/env bash
# The quick start's main job, in the order every guide teaches, on a lab of
# real machines on this box (2 load balancers, 3 masters):
#   1. masters with no apiserver yet (before kubeadm init)
#   2. kha apply builds the endpoint: keepalived + haproxy, the VIP held
#   3. kha kubeadm hands kubeadm its endpoint (controlPlaneEndpoint, certSANs)
#   4. the lab's kubeadm stand-in: init on m1, join m2 and m3 through the VIP
#   5. kha status --wait until haproxy sees every apiserver; apply records them
#   6. kha verify-failover proves the failover, a real watch held through
#      each drill with kubeadm's admin.conf (HTML report); kha status: healthy
# Every run starts from a fresh lab, so it always shows the whole journey.
set -euo pipefail
cd "$(dirname "$0")/.."
kha() { node bin/kha.js "$@"; }
step() { printf '\n== %s\n' "$*"; }

out=${KHA_DEMO_OUT:-$PWD/out}
mkdir -p "$out"
hosts=/var/lib/kha/lab/hosts.yaml
config="$out/kubeadm-config.yaml"

if kha lab status >/dev/null 2>&1; then
  step "a lab is up already: taking it down to start before kubeadm"
  kha lab down
fi
step "kha lab up --before-kubeadm: 2 load balancers, 3 masters with no apiserver yet (the first run builds a Debian root fs, a few minutes)"
kha lab up --lbs 2 --masters 3 --before-kubeadm
step "kha validate $hosts"
kha validate "$hosts"
step "kha apply $hosts: the endpoint first"
kha apply --yes "$hosts"
step "kha kubeadm $hosts --out $config: what kubeadm needs from the endpoint"
kha kubeadm "$hosts" --out "$config"
step "kubeadm init on m1 with that file (the lab's stand-in for kubeadm)"
kha lab kubeadm init m1 --config "$config"
step "kubeadm join on m2 and m3, through the VIP"
kha lab kubeadm join m2
kha lab kubeadm join m3
step "kha status $hosts --wait: until every load balancer's haproxy sees every apiserver"
kha status "$hosts" --wait=120
step "kha apply $hosts again: nothing to change; every master answers, and kha remembers that they did"
kha apply --yes "$hosts"
step "kha verify-failover $hosts --kubeconfig (kubeadm's admin.conf): the drills, a real watch held through each"
kha verify-failover "$hosts" --kubeconfig /var/lib/kha/lab/admin.conf --report "$out/drills.html"
step "kha status $hosts"
kha status "$hosts"
echo
echo "The drills' report: $out/drills.html"
echo "Take the lab down with: node bin/kha.js lab down"
