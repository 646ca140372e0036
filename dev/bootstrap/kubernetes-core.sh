#!/usr/bin/env bash
# Install the kubernetes.core collection (our collection's one dependency, galaxy.yml) into a
# collections path. Galaxy is not reachable here; PyPI is, and the `ansible` package there ships
# kubernetes.core exactly as Galaxy installs it (MANIFEST.json, FILES.json). The wheel is
# downloaded once and cached; only kubernetes.core is taken from it.
#
#   dev/bootstrap/kubernetes-core.sh PYTHON COLLECTIONS_PATH
set -euo pipefail
python="$1"
dest="$2"
# The `ansible` release that goes with the pinned ansible-core (its kubernetes.core is the one tested).
ANSIBLE_RELEASE="13.8.0"
KUBERNETES_CORE="6.4.0"
cache="${DPF_HCP_CACHE:-$HOME/.cache/dpf-hcp}/ansible-$ANSIBLE_RELEASE"
manifest="$dest/ansible_collections/kubernetes/core/MANIFEST.json"
if [[ -f "$manifest" ]] && grep -q "\"version\": \"$KUBERNETES_CORE\"" "$manifest"; then
  exit 0
fi
wheel="$cache/ansible-$ANSIBLE_RELEASE-py3-none-any.whl"
if [[ ! -f "$wheel" ]]; then
  mkdir -p "$cache"
  "$python" -m pip download --quiet --no-deps --dest "$cache" "ansible==$ANSIBLE_RELEASE" >&2
fi
rm -rf "$dest/ansible_collections/kubernetes/core"
mkdir -p "$dest"
"$python" - "$wheel" "$dest" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf:
    zf.extractall(dest, [n for n in zf.namelist() if n.startswith("ansible_collections/kubernetes/core/")])
PY
grep -q "\"version\": \"$KUBERNETES_CORE\"" "$manifest" || { echo "kubernetes.core is not $KUBERNETES_CORE in $wheel" >&2; exit 1; }
