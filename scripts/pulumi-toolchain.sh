#!/usr/bin/env bash
# Builds (once) the Pulumi toolchain the engine tier runs on, and prints its bin directory as the LAST line of stdout.
#
#   bin=$(bash scripts/pulumi-toolchain.sh | tail -1); PATH="$bin:$PATH"
#
# Built with this machine's Go and the Go module proxy only, from the pinned modules tools/pulumi and
# tools/pulumi-yaml (go.mod + go.sum each):
#   pulumi                         the CLI and engine, github.com/pulumi/pulumi/pkg/v3 cmd/pulumi (tools/pulumi)
#   pulumi-language-yaml           github.com/pulumi/pulumi-yaml cmd/pulumi-language-yaml (tools/pulumi-yaml: its own
#                                  module, as v1.25.0 does not compile against the CLI's pkg/v3)
#   pulumi-language-python         our own language host (tools/pulumi/cmd/pulumi-language-python): the real one's
#                                  module is not served by the proxy
#   pulumi-language-python-exec    the SDK's program runner          } copied from the module
#   pulumi-resource-pulumi-python  the SDK's dynamic-provider shim   } github.com/pulumi/pulumi/sdk/v3
#   pulumi-resource-{docker,random,tls,aws,gcp,azure-native,kubernetes}  wrappers that exec the stand-in plugins of
#                                  the checkout the engine runs in (tests/support/plugins/bin): see
#                                  tests/support/README.md, "Toolchain"
#
# Cache: $REGISTRIES_TOOLCHAIN_DIR, default ~/.cache/registries/toolchain/<key>, the key naming the pinned versions
# and a hash of tools/pulumi, tools/pulumi-yaml and this script. A present cache is reused as is (no Go, no network); a build goes
# to a temporary directory beside it that is renamed into place only when complete, under a lock, so an
# interrupted or concurrent run never leaves or sees a half-built cache. Progress goes to stderr.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod="$repo/tools/pulumi"
yaml_mod="$repo/tools/pulumi-yaml"
log() { printf 'pulumi-toolchain: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[ -f "$mod/go.mod" ] || die "missing $mod/go.mod"
[ -f "$yaml_mod/go.mod" ] || die "missing $yaml_mod/go.mod"
# The pinned versions, read from go.mod (no Go needed to find an existing cache).
modver() { awk -v m="$2" '$1 == m {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' "$1/go.mod"; }
pulumi_version=$(modver "$mod" github.com/pulumi/pulumi/pkg/v3)
yaml_version=$(modver "$yaml_mod" github.com/pulumi/pulumi-yaml)
[[ $pulumi_version == v* ]] || die "tools/pulumi/go.mod does not require github.com/pulumi/pulumi/pkg/v3"
[[ $yaml_version == v* ]] || die "tools/pulumi-yaml/go.mod does not require github.com/pulumi/pulumi-yaml"

# Everything the build reads from the checkout: a change to any of it is a new cache directory.
source_hash=$(
  cd "$repo" && {
    find tools/pulumi tools/pulumi-yaml -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    sha256sum scripts/pulumi-toolchain.sh
  } | sha256sum | cut -c1-12
)
key="pulumi-${pulumi_version}_yaml-${yaml_version}_${source_hash}"
dir="${REGISTRIES_TOOLCHAIN_DIR:-$HOME/.cache/registries/toolchain/$key}"
dir="${dir%/}"

standin_plugins=(docker random tls aws gcp azure-native kubernetes)
expected=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-language-yaml pulumi-resource-pulumi-python)
for p in "${standin_plugins[@]}"; do expected+=("pulumi-resource-$p"); done

complete() {
  [ -f "$1/VERSIONS" ] || return 1
  local exe built
  for exe in "${expected[@]}"; do [ -x "$1/bin/$exe" ] || return 1; done
  # A directory named by $REGISTRIES_TOOLCHAIN_DIR may hold an older build: it must be this key's.
  built=$(awk '$1 == "key:" {print $2; exit}' "$1/VERSIONS")
  [ "$built" = "$key" ] ||
    die "$1 holds the toolchain $built, this checkout pins $key: remove it or set another REGISTRIES_TOOLCHAIN_DIR"
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
[ ! -e "$dir" ] || die "$dir exists but is not a complete toolchain (no VERSIONS or missing executables); remove it"

command -v go >/dev/null 2>&1 || die "no 'go' on PATH: the toolchain is built with the machine's Go (1.26 or newer)"
need_go=$(cat "$mod/go.mod" "$yaml_mod/go.mod" | awk '$1 == "go" {print $2}' | sort -V | tail -1)
have_go=$(go env GOVERSION)
if [ "$(printf '%s\n%s\n' "go$need_go" "$have_go" | sort -V | head -1)" != "go$need_go" ]; then
  die "Go is $have_go; tools/pulumi*/go.mod need go $need_go or newer"
fi

# Leftovers of a killed build of this key (none can be running: we hold its lock).
rm -rf "$parent/.build-$(basename "$dir")."*
tmp=$(mktemp -d "$parent/.build-$(basename "$dir").XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

seconds() { date +%s; }
build() { # build <module dir> <output name> <package> [ldflags]
  local dir=$1 name=$2 pkg=$3 ldflags=${4:-} start
  start=$(seconds)
  log "go build $pkg -> $name"
  # -s -w: no symbol table or DWARF (a third smaller; panics still print stack traces).
  (cd "$dir" && go build -o "$tmp/bin/$name" -ldflags "-s -w $ldflags" "$pkg") >&2 ||
    die "building $name from $pkg failed (output above)"
  log "built $name in $(($(seconds) - start))s"
  timings+=("$name $(($(seconds) - start))s")
}
timings=()
sdk_version_var=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
build "$mod" pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "-X $sdk_version_var=$pulumi_version"
build "$mod" pulumi-language-python ./cmd/pulumi-language-python "-X $sdk_version_var=$pulumi_version"
build "$yaml_mod" pulumi-language-yaml github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml \
  "-X github.com/pulumi/pulumi-yaml/pkg/version.Version=$yaml_version"

# The SDK's Python scripts, from the sdk/v3 module the build just used.
sdk_python=$(cd "$mod" && go list -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3/python/toolchain)
sdk_python=$(dirname "$sdk_python")
install -m 0755 "$sdk_python/cmd/pulumi-language-python-exec" "$tmp/bin/pulumi-language-python-exec"
install -m 0755 "$sdk_python/dist/pulumi-resource-pulumi-python" "$tmp/bin/pulumi-resource-pulumi-python"

# Provider plugins: their modules are not served by the proxy, so each name runs the checkout's stand-in.
for p in "${standin_plugins[@]}"; do
  cat >"$tmp/bin/pulumi-resource-$p" <<EOF
#!/bin/sh
# pulumi-resource-$p (written by scripts/pulumi-toolchain.sh): runs the stand-in plugin of a registries checkout,
# \$REGISTRIES_REPO, else the first directory above the working directory (the engine starts plugins in the
# program's directory) that has tests/support/plugins/bin/pulumi-resource-$p.
plugin=tests/support/plugins/bin/pulumi-resource-$p
if [ -n "\${REGISTRIES_REPO:-}" ]; then
  exec "\$REGISTRIES_REPO/\$plugin" "\$@"
fi
d=\$PWD
while :; do
  if [ -e "\$d/\$plugin" ]; then
    exec "\$d/\$plugin" "\$@"
  fi
  [ "\$d" = / ] && break
  d=\$(dirname "\$d")
done
echo "pulumi-resource-$p: no \$plugin above \$PWD; set REGISTRIES_REPO to a registries checkout" >&2
exit 1
EOF
  chmod 0755 "$tmp/bin/pulumi-resource-$p"
done

# Smoke: the CLI runs and reports the pinned version.
got=$(PULUMI_HOME="$tmp/home" PULUMI_SKIP_UPDATE_CHECK=1 "$tmp/bin/pulumi" version 2>/dev/null) ||
  die "the built pulumi does not run"
rm -rf "$tmp/home"
[ "$got" = "$pulumi_version" ] || die "the built pulumi reports version '$got', expected $pulumi_version"

{
  echo "key: $key"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) with $have_go ($(go env GOOS)/$(go env GOARCH))"
  echo "pulumi: github.com/pulumi/pulumi/pkg/v3 $pulumi_version (cmd/pulumi)"
  echo "pulumi-language-yaml: github.com/pulumi/pulumi-yaml $yaml_version (cmd/pulumi-language-yaml)"
  echo "pulumi-language-python: registries stand-in tools/pulumi/cmd/pulumi-language-python on github.com/pulumi/pulumi/sdk/v3 $pulumi_version"
  echo "pulumi-language-python-exec, pulumi-resource-pulumi-python: github.com/pulumi/pulumi/sdk/v3 $pulumi_version python/"
  echo "pulumi-resource-{$(
    IFS=,
    echo "${standin_plugins[*]}"
  )}: wrappers of the checkout's tests/support/plugins/bin stand-ins"
  echo "source hash (tools/pulumi, tools/pulumi-yaml, scripts/pulumi-toolchain.sh): $source_hash"
  echo "build times: ${timings[*]}"
} >"$tmp/VERSIONS"

chmod 0755 "$tmp"
mv -T "$tmp" "$dir" # atomic: the cache appears complete or not at all
trap - EXIT
log "built $dir ($(du -sh "$dir" | cut -f1))"
echo "$dir/bin"
