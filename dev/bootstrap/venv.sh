#!/usr/bin/env bash
# Create .venv with the pinned dependencies, and make the collection in this checkout visible
# to Ansible and to Python as ansible_collections.dpf_hcp.provisioner. Idempotent and quick
# when nothing changed.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="$REPO/.venv"
# ansible-core 2.20 needs Python 3.12 or newer: 3.12 first, as the Containerfile's image has
# (pyenv's when the system has none), then a newer one.
find_python() {
  local candidate pyenv_root
  pyenv_root="$(pyenv root 2>/dev/null || true)"
  for candidate in "${PYTHON:-}" python3.12 "$pyenv_root"/versions/3.12*/bin/python3 python3.13 \
    "$pyenv_root"/versions/3.1[3-9]*/bin/python3 python3; do
    [[ -n "$candidate" ]] || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate"
      return
    fi
  done
  echo "[venv] no Python 3.12 or newer found: install one, or set PYTHON" >&2
  return 1
}
PY="$(find_python)"

"$REPO/dev/bootstrap/apt-packages.sh"
stamp="$VENV/.installed-$(sha256sum "$REPO/pyproject.toml" | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  echo "[venv] creating $VENV" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >&2
  "$VENV/bin/pip" install -q -e "$REPO[dev]" >&2
  touch "$stamp"
fi
# kubernetes.core, the collection's dependency (galaxy.yml), beside it.
"$REPO/dev/bootstrap/kubernetes-core.sh" "$VENV/bin/python" "$VENV/collections"
# The checkout as an installed collection (a link, so edits apply at once).
mkdir -p "$VENV/collections/ansible_collections/dpf_hcp"
ln -sfn "$REPO" "$VENV/collections/ansible_collections/dpf_hcp/provisioner"
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$VENV/collections" > "$site/dpf_hcp_collection.pth"
# The development tooling (dev/dpf_hcp_dev), which the operator's wheel does not ship.
echo "$REPO/dev" > "$site/dpf_hcp_dev.pth"
