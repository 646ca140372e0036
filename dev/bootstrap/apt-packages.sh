#!/usr/bin/env bash
# Debian packages the local control plane and the tests need, plus any named as arguments;
# installs only what is missing. faketime: the leader election fault test skews a replica's clock.
set -euo pipefail
PKGS=(etcd-server openssl jq python3-venv faketime "$@")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "[apt-packages] installing ${missing[*]}" >&2
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
fi
