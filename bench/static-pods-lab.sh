# Sourced by the static-pods benches: the lab they measure on, three masters
# with podman and the kubelet stand-in, built as a user would (apply before
# kubeadm, init on m1, the others join through the VIP) and healthy.
# Defines kha; static_pods_lab DIR builds it, keeping its files in DIR, and
# sets hosts to its hosts.yaml.
kha() { node bin/kha.js "$@"; }

static_pods_lab() {
  local dir=$1
  kha lab down >/dev/null
  kha lab up --static-pods --before-kubeadm --json > "$dir/up.json"
  hosts=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).hostsYaml)' "$dir/up.json")
  kha apply --yes "$hosts" > /dev/null
  kha kubeadm --out "$dir/kubeadm.yaml" "$hosts" > /dev/null
  kha lab kubeadm init m1 --config "$dir/kubeadm.yaml" > /dev/null
  for m in m2 m3; do kha lab kubeadm join "$m" > /dev/null; done
  kha status --wait=120 "$hosts" > /dev/null
}
