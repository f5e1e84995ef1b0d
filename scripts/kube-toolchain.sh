#!/usr/bin/env bash
# Builds (once) the Kubernetes components the tests run (tests/kube): kube-apiserver (level 1: a real API server),
# kube-controller-manager, kube-scheduler and kubelet (level 2: a node running pods), and prints their bin directory
# as the LAST line of stdout.
#
#   bin=$(bash scripts/kube-toolchain.sh | tail -1); export REGISTRIES_KUBE_BIN=$bin
#
# Built with this machine's Go and the Go module proxy only, from the pinned wrapper module tools/kubernetes
# (go.mod + go.sum): it requires k8s.io/kubernetes and maps each of its staging `replace`s (./staging/src/k8s.io/*)
# to the published k8s.io/* module of the same release, then `go build k8s.io/kubernetes/cmd/<component>` with
# CGO_ENABLED=0. etcd is Debian's etcd-server, containerd/runc/CNI plugins Debian's (scripts/test.sh installs them),
# kubectl the machine's.
#
# Cache: $REGISTRIES_KUBE_DIR, default ~/.cache/registries/kube/<key>, the key naming the pinned k8s.io/kubernetes
# version and a hash of tools/kubernetes and this script. A present cache is reused as is (no Go, no network);
# a build goes to a temporary directory beside it that is renamed into place only when complete, under a lock, so
# an interrupted or concurrent run never leaves or sees a half-built cache. Progress goes to stderr.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod="$repo/tools/kubernetes"
components=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
log() { printf 'kube-toolchain: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[ -f "$mod/go.mod" ] || die "missing $mod/go.mod"
kube_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3; exit} $1 == "k8s.io/kubernetes" {print $2; exit}' "$mod/go.mod")
[[ $kube_version == v1.* ]] || die "tools/kubernetes/go.mod does not require k8s.io/kubernetes v1.x"

source_hash=$(
  cd "$repo" && {
    find tools/kubernetes -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    sha256sum scripts/kube-toolchain.sh
  } | sha256sum | cut -c1-12
)
key="${kube_version}_${source_hash}"
dir="${REGISTRIES_KUBE_DIR:-$HOME/.cache/registries/kube/$key}"
dir="${dir%/}"

complete() {
  [ -f "$1/VERSIONS" ] || return 1
  local component
  for component in "${components[@]}"; do [ -x "$1/bin/$component" ] || return 1; done
  local built
  built=$(awk '$1 == "key:" {print $2; exit}' "$1/VERSIONS")
  [ "$built" = "$key" ] ||
    die "$1 holds Kubernetes $built, this checkout pins $key: remove it or set another REGISTRIES_KUBE_DIR"
}

if complete "$dir"; then
  log "reusing $dir"
  echo "$dir/bin"
  exit 0
fi

parent=$(dirname "$dir")
mkdir -p "$parent"
exec 9>"$parent/.$(basename "$dir").lock"
log "waiting for the build lock ($parent/.$(basename "$dir").lock)"
flock 9
if complete "$dir"; then # built by a concurrent run meanwhile
  log "reusing $dir"
  echo "$dir/bin"
  exit 0
fi
[ ! -e "$dir" ] || die "$dir exists but is not a complete build (no VERSIONS or a component missing from bin/); remove it"

command -v go >/dev/null 2>&1 || die "no 'go' on PATH: the Kubernetes components are built with the machine's Go"
rm -rf "$parent/.build-$(basename "$dir")."*
tmp=$(mktemp -d "$parent/.build-$(basename "$dir").XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

start=$(date +%s)
# The version each reports (/version, --version) comes from these ldflags, as Kubernetes' own build sets.
ver_pkg=k8s.io/component-base/version
ldflags="-s -w -X $ver_pkg.gitVersion=$kube_version -X $ver_pkg.gitMajor=1 -X $ver_pkg.gitMinor=$(echo "$kube_version" | cut -d. -f2)"
ldflags="$ldflags -X $ver_pkg.gitTreeState=clean -X $ver_pkg.buildDate=1970-01-01T00:00:00Z"
packages=()
for component in "${components[@]}"; do packages+=("k8s.io/kubernetes/cmd/$component"); done
log "go build ${components[*]} ($kube_version)"
# One `go build -o <dir>/` for all: the packages they share compile once.
(cd "$mod" && go build -trimpath -o "$tmp/bin/" -ldflags "$ldflags" "${packages[@]}") >&2 ||
  die "building ${components[*]} failed (output above)"
seconds=$(($(date +%s) - start))
log "built ${components[*]} in ${seconds}s"

for component in "${components[@]}"; do
  got=$("$tmp/bin/$component" --version 2>/dev/null) || die "the built $component does not run"
  [ "$got" = "Kubernetes $kube_version" ] || die "the built $component reports '$got', expected 'Kubernetes $kube_version'"
done

{
  echo "key: $key"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) with $(go env GOVERSION) ($(go env GOOS)/$(go env GOARCH)), CGO_ENABLED=0"
  echo "${components[*]}: k8s.io/kubernetes $kube_version (cmd/<component>), staging modules from the proxy"
  echo "source hash (tools/kubernetes, scripts/kube-toolchain.sh): $source_hash"
  echo "build time: ${seconds}s"
} >"$tmp/VERSIONS"

chmod 0755 "$tmp"
mv -T "$tmp" "$dir" # atomic: the cache appears complete or not at all
trap - EXIT
log "built $dir ($(du -sh "$dir" | cut -f1))"
echo "$dir/bin"
