#!/usr/bin/env bash
# ansible-test sanity on the collection as Galaxy ships it: build the tarball, install it into a
# scratch ansible_collections tree (ansible-test runs from ansible_collections/<ns>/<name>), run.
# Each sanity test gets its own venv (cached in ~/.ansible/test/venv), filled from PyPI.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$REPO/.venv"
# Outside the checkout: ansible-test would take the checkout's git tree for the collection's files.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dpf-hcp-sanity.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
"$VENV/bin/ansible-galaxy" collection build --output-path "$WORK/dist" "$REPO" >/dev/null
ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_COLLECTIONS_PATH="$WORK/collections" \
  "$VENV/bin/ansible-galaxy" collection install --no-deps -p "$WORK/collections" "$WORK"/dist/*.tar.gz >/dev/null
# Its dependency beside it, as `ansible-galaxy collection install` would put it.
"$REPO/dev/bootstrap/kubernetes-core.sh" "$VENV/bin/python" "$WORK/collections"

# ansible-test bootstraps pip in each venv with get-pip.py from ci-files.testing.ansible.com,
# which is not reachable here; it takes a cached copy first, so a stand-in that bootstraps pip
# from ensurepip and PyPI goes where that copy would be.
pip_version="$("$VENV/bin/python" -c '
import inspect, re
from ansible_test._internal import python_requirements as m
print(re.search(r"pip=.([0-9.]+).", inspect.getsource(m.get_venv_packages)).group(1))')"
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cp "$REPO/dev/bootstrap/get-pip-offline.py" "$cache"

cd "$WORK/collections/ansible_collections/dpf_hcp/provisioner"
env -u ANSIBLE_COLLECTIONS_PATH "$VENV/bin/ansible-test" sanity --python "$("$VENV/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')" --color no "$@"
