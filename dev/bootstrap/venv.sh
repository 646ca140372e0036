#!/usr/bin/env bash
# Create .venv with the pinned dependencies, and make the collection in this checkout visible
# to Ansible and to Python as ansible_collections.dpf_hcp.provisioner. Idempotent and quick
# when nothing changed.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="$REPO/.venv"
PY="${PYTHON:-python3}"

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
# The checkout as an installed collection (a link, so edits apply at once).
mkdir -p "$VENV/collections/ansible_collections/dpf_hcp"
ln -sfn "$REPO" "$VENV/collections/ansible_collections/dpf_hcp/provisioner"
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$VENV/collections" > "$site/dpf_hcp_collection.pth"
