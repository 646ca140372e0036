#!/usr/bin/env bash
# Build etcd-independent Kubernetes v1.20.2 control-plane binaries from Debian's source
# package and cache them outside the work tree. A warm machine returns at once.
# Prints the directory holding kube-apiserver and kube-controller-manager.
set -euo pipefail

CACHE_DIR="${DPF_HCP_CACHE:-$HOME/.cache/dpf-hcp}"
BIN_DIR="$CACHE_DIR/k8s-v1.20.2/bin"
log() { printf '[kube-binaries] %s\n' "$*" >&2; }

if [[ -x "$BIN_DIR/kube-apiserver" && -x "$BIN_DIR/kube-controller-manager" ]]; then
  echo "$BIN_DIR"
  exit 0
fi

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"

if ! grep -rqs 'deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  log "enabling Debian source packages"
  $SUDO tee /etc/apt/sources.list.d/dpf-hcp-deb-src.sources >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  $SUDO apt-get update -qq
fi
"$(dirname "$0")/apt-packages.sh"
$SUDO apt-get install -y -qq dpkg-dev golang-go rsync golang-github-modern-go-reflect2-dev >&2

WORK="$CACHE_DIR/k8s-src"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
log "fetching the kubernetes source package"
apt-get source -qq kubernetes >&2
SRC_DIR=$(find . -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
cd "$SRC_DIR"

# Vendored reflect2 1.0.1 crashes under Go >= 1.18 on the first custom-resource write.
log "replacing vendored reflect2 with Debian's 1.0.2"
R2=vendor/github.com/modern-go/reflect2
rm -f "$R2"/*.go "$R2"/*.s
for f in /usr/share/gocode/src/github.com/modern-go/reflect2/*.go /usr/share/gocode/src/github.com/modern-go/reflect2/*.s; do
  [[ -e "$f" && "$f" != *_test.go ]] && cp "$f" "$R2/"
done

mkdir -p .go/src/k8s.io && ln -sfn ../../.. .go/src/k8s.io/kubernetes
log "building kube-apiserver and kube-controller-manager (about 4 minutes on 2 cores)"
GOPATH=$PWD/.go GOPROXY=off GOFLAGS=-mod=vendor GO111MODULE=off \
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >&2

mkdir -p "$BIN_DIR"
cp _output/bin/kube-apiserver _output/bin/kube-controller-manager "$BIN_DIR/"
cd / && rm -rf "$WORK"
log "cached in $BIN_DIR"
echo "$BIN_DIR"
