#!/usr/bin/env bash
# Install dpf-hcp-operator and the dpf_hcp.provisioner collection into a new Python environment.
# The Containerfile's install step; tests/integration/test_chart_install.py runs the same script
# and then the operator from what it installed, so the image's layout is tested without an engine.
#
#   image/install-operator.sh SOURCE_DIR VENV_DIR
set -euo pipefail
src="$(cd "$1" && pwd)"
venv="$2"
python="${PYTHON:-python3}"  # 3.12 or newer (ansible-core 2.20)

"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --no-cache-dir --upgrade pip
# The operator and its pinned dependencies (ansible-core, ansible-runner, ...).
"$venv/bin/pip" install --quiet --no-cache-dir "$src"
# The collection, built and installed as ansible-galaxy users get it.
dist="$(mktemp -d)"
trap 'rm -rf "$dist"' EXIT
"$venv/bin/ansible-galaxy" collection build --output-path "$dist" "$src" >/dev/null
ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_COLLECTIONS_PATH="$venv/collections" \
  "$venv/bin/ansible-galaxy" collection install --no-deps -p "$venv/collections" "$dist"/*.tar.gz >/dev/null
# Its dependency, kubernetes.core (galaxy.yml), the tested release, from PyPI's `ansible` package,
# which ships it as Galaxy installs it.
"$src/dev/bootstrap/kubernetes-core.sh" "$venv/bin/python" "$venv/collections"
# The operator imports the collection's module_utils: put the collections path on sys.path.
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$venv/collections" >"$site/dpf_hcp_collection.pth"
"$venv/bin/dpf-hcp-operator" --help >/dev/null
echo "$venv"
