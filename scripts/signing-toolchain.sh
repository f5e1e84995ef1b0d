#!/usr/bin/env bash
# Builds (once) the signing tools of the signing e2e (tests/e2e/test_signing_e2e.py) and of `registryctl verify`'s
# signing probe, and prints their bin directory as the LAST line of stdout.
#
#   bin=$(bash scripts/signing-toolchain.sh | tail -1); export REGISTRIES_SIGNING_BIN=$bin
#
# Built with this machine's Go and the Go module proxy only:
#   cosign    github.com/sigstore/cosign/v2/cmd/cosign, `go install ...@v2.6.5` (the newest v2 the proxy serves; its own
#             go.mod, no `replace`, checked against the checksum database)
#   notation  github.com/notaryproject/notation/cmd/notation v1.3.2 (the newest the proxy serves), `go build` in the
#             pinned wrapper module tools/notation (go.mod + go.sum): `go install module@version` reads the module's
#             version list, which this proxy refuses (403)
#
# Cache: $REGISTRIES_SIGNING_DIR, default ~/.cache/registries/signing/<key>, the key naming both versions and a
# hash of tools/notation and this script. A present cache is reused as is (no Go, no network); a build goes to a temporary directory
# beside it that is renamed into place only when complete, under a lock, so an interrupted or concurrent run never
# leaves or sees a half-built cache. Progress goes to stderr.
set -euo pipefail

cosign_version=v2.6.5

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
notation_mod="$repo/tools/notation"
log() { printf 'signing-toolchain: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[ -f "$notation_mod/go.mod" ] || die "missing $notation_mod/go.mod"
notation_version=$(awk '$1 == "require" && $2 == "github.com/notaryproject/notation" {print $3; exit}' "$notation_mod/go.mod")
[[ $notation_version == v* ]] || die "tools/notation/go.mod does not require github.com/notaryproject/notation"
source_hash=$(
  cd "$repo" && {
    find tools/notation -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    sha256sum scripts/signing-toolchain.sh
  } | sha256sum | cut -c1-12
)
key="cosign-${cosign_version}_notation-${notation_version}_${source_hash}"
dir="${REGISTRIES_SIGNING_DIR:-$HOME/.cache/registries/signing/$key}"
dir="${dir%/}"
expected=(cosign notation)

complete() {
  [ -f "$1/VERSIONS" ] || return 1
  local exe built
  for exe in "${expected[@]}"; do [ -x "$1/bin/$exe" ] || return 1; done
  built=$(awk '$1 == "key:" {print $2; exit}' "$1/VERSIONS")
  [ "$built" = "$key" ] ||
    die "$1 holds the signing tools $built, this checkout pins $key: remove it or set another REGISTRIES_SIGNING_DIR"
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
[ ! -e "$dir" ] || die "$dir exists but is not a complete signing toolchain (no VERSIONS or missing executables); remove it"

command -v go >/dev/null 2>&1 || die "no 'go' on PATH: the signing tools are built with the machine's Go (1.25 or newer)"
have_go=$(go env GOVERSION)

rm -rf "$parent/.build-$(basename "$dir")."*
tmp=$(mktemp -d "$parent/.build-$(basename "$dir").XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
# A temporary GOPATH/bin is never used: GOBIN points into the build directory. GOTOOLCHAIN=local: no Go download.
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$tmp/bin"

timings=()
build() { # build <module>/<cmd path> <version> [ldflags]
  local pkg=$1 version=$2 ldflags=${3:-} start
  start=$(date +%s)
  log "go install $pkg@$version"
  # -s -w: no symbol table or DWARF (a third smaller; panics still print stack traces).
  go install -trimpath -ldflags "-s -w $ldflags" "$pkg@$version" >&2 || die "building $pkg@$version failed (output above)"
  log "built $(basename "$pkg") in $(($(date +%s) - start))s"
  timings+=("$(basename "$pkg") $(($(date +%s) - start))s")
}
build github.com/sigstore/cosign/v2/cmd/cosign "$cosign_version" \
  "-X sigs.k8s.io/release-utils/version.gitVersion=$cosign_version"
start=$(date +%s)
log "go build github.com/notaryproject/notation/cmd/notation ($notation_version, tools/notation)"
(cd "$notation_mod" && go build -trimpath -o "$tmp/bin/notation" -ldflags "-s -w \
  -X github.com/notaryproject/notation/internal/version.Version=$notation_version \
  -X github.com/notaryproject/notation/internal/version.BuildMetadata=" \
  github.com/notaryproject/notation/cmd/notation) >&2 || die "building notation failed (output above)"
log "built notation in $(($(date +%s) - start))s"
timings+=("notation $(($(date +%s) - start))s")

# Smoke: both run and report the pinned versions.
"$tmp/bin/cosign" version 2>&1 | grep -q "GitVersion: *$cosign_version" ||
  die "the built cosign does not run or does not report $cosign_version: $("$tmp/bin/cosign" version 2>&1 | head -3)"
"$tmp/bin/notation" version 2>&1 | grep -q "${notation_version#v}" ||
  die "the built notation does not run or does not report $notation_version: $("$tmp/bin/notation" version 2>&1 | head -3)"

{
  echo "key: $key"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) with $have_go ($(go env GOOS)/$(go env GOARCH))"
  echo "cosign: github.com/sigstore/cosign/v2 $cosign_version (cmd/cosign)"
  echo "notation: github.com/notaryproject/notation $notation_version (cmd/notation)"
  echo "source hash (tools/notation, scripts/signing-toolchain.sh): $source_hash"
  echo "build times: ${timings[*]}"
} >"$tmp/VERSIONS"

chmod 0755 "$tmp"
mv -T "$tmp" "$dir" # atomic: the cache appears complete or not at all
trap - EXIT
log "built $dir ($(du -sh "$dir" | cut -f1))"
echo "$dir/bin"
