#!/usr/bin/env bash
# Installs the Debian packages kha's tests and lab use on the operator's
# machine (Debian 12 / Ubuntu, as root). Idempotent: installs only what is missing.
#   haproxy, keepalived   the real validators (haproxy -c, keepalived -t) in the tests
#   nginx, libnginx-mod-stream  the local proxy's validator (nginx -t) in the tests
#   openssh-server, sudo  a real sshd on 127.0.0.1 for the transport tests
#   iproute2, util-linux  namespaces for the tests and the lab
#   chromium              renders the drill report in its test
#   tmux                  a real terminal for the kha setup lab test
#   python3-h2            HTTP/2 in the apiserver stand-in's unit test (the lab's machines have their own)
#   kubernetes-client     kubectl, a real client-go client among the drills'
#                         held streams; only when no kubectl is on PATH (the
#                         package conflicts with other kubectl packages)
set -euo pipefail

packages=(haproxy keepalived nginx libnginx-mod-stream openssh-server openssh-client sudo iproute2 util-linux curl ca-certificates chromium tmux python3-h2)
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-host: run as root (apt-get install needs it)" >&2
  exit 2
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-host: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Packages enable their services on install. Stop only what this script just
# installed: the tests need the binaries, not a haproxy or keepalived running on
# this machine; a service the user had before is left alone.
for p in "${missing[@]}"; do
  case "$p" in
    haproxy|keepalived|nginx) s=$p ;;
    openssh-server) s=ssh ;;
    *) continue ;;
  esac
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now "$s" >/dev/null 2>&1 || true
  fi
done
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup-host: kha needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 2
fi
echo "setup-host: ready"
