#!/usr/bin/env bash
# Runs every check and test of the project on a fresh Debian machine: installs what the tests need
# (Debian packages, a virtualenv with requirements-dev.txt), starts the Docker Engine, then runs
# ruff, pyright and pytest. Any backend that cannot start fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step prints the seconds since the start, so a CI log shows where the time went.
step() { echo "==> [$SECONDS s] $*"; }

# nginx: the UI stand-in image; haproxy, redis-server: the scale-out images; etcd-server: tests/kube; containerd, runc,
# containernetworking-plugins, iproute2, iptables: the node of tests/e2e/test_kubernetes_node.py (busybox-static: its
# pause image too).
APT_PACKAGES=(docker.io skopeo docker-registry busybox-static ca-certificates nginx-light haproxy redis-server etcd-server
  containerd runc containernetworking-plugins iproute2 iptables)
need_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
# pyright (PyPI) runs on Node.js, and Debian's own python3 needs python3-venv for `-m venv`.
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
python3 -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
# The Artifact Registry scenarios (tests/emulators) run the gcloud Pub/Sub emulator (a Java server): Debian's JRE,
# and the emulator package of the Google Cloud CLI (in the machine image; from the Google Cloud apt repository where
# that is configured).
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
# The Kubernetes manifests are decoded offline by kubectl (in the machine image; else Debian's kubernetes-client).
command -v kubectl >/dev/null 2>&1 || need_apt+=(kubernetes-client)
[ -d /usr/lib/google-cloud-sdk/platform/pubsub-emulator ] || need_apt+=(google-cloud-cli-pubsub-emulator)
if [ ${#need_apt[@]} -gt 0 ]; then
  step "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Install services (nginx) without starting them on the host: the tests only build images from them.
  policy_rc=/usr/sbin/policy-rc.d
  [ -e "$policy_rc" ] || { printf '#!/bin/sh\nexit 101\n' >"$policy_rc" && chmod +x "$policy_rc" && trap 'rm -f "$policy_rc"' EXIT; }
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  step "python3 -m venv $VENV"
  python3 -m venv "$VENV"
fi
UV_VERSION=0.13.9
step "uv pip install -r requirements-dev.txt (uv $UV_VERSION from PyPI)"
# uv installs the same distributions as pip (pip freeze is identical) from its cache in ~/.cache/uv, without .pyc
# for the ~21,000 SDK modules (the tests import a fraction; Python compiles those on first import). Into a new venv,
# quiet machine: pip --no-compile 242 s, uv 7 s.
"$VENV/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION"
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -r requirements-dev.txt

if ! docker info >/dev/null 2>&1; then
  step "starting dockerd"
  nohup dockerd >/tmp/registries-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "dockerd did not start; its log:" >&2
    tail -50 /tmp/registries-dockerd.log >&2
    exit 1
  fi
fi

step "ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
step "pyright"
"$VENV/bin/pyright" --pythonpath "$VENV/bin/python"
step "Pulumi toolchain (bash scripts/pulumi-toolchain.sh: built once into ~/.cache/registries, then reused)"
# The engine tier (tests/engine) runs the real Pulumi CLI from this bin; a toolchain that does not build fails here.
REGISTRIES_TOOLCHAIN_BIN=$(bash scripts/pulumi-toolchain.sh | tail -n 1)
export REGISTRIES_TOOLCHAIN_BIN
step "Kubernetes components (bash scripts/kube-toolchain.sh: built once into ~/.cache/registries/kube, then reused)"
# tests/kube run kube-apiserver on etcd (etcd-server above); tests/e2e/test_kubernetes_node.py adds the controllers and
# a kubelet on containerd. A component that does not build fails here.
REGISTRIES_KUBE_BIN=$(bash scripts/kube-toolchain.sh | tail -n 1)
export REGISTRIES_KUBE_BIN
step "cosign, notation (bash scripts/signing-toolchain.sh: built once into ~/.cache/registries/signing, then reused)"
# The signing e2e (tests/e2e/test_signing_e2e.py) signs and verifies with them; a tool that does not build fails here.
REGISTRIES_SIGNING_BIN=$(bash scripts/signing-toolchain.sh | tail -n 1)
export REGISTRIES_SIGNING_BIN
step "pytest"
# Native tracebacks: CPython 3.11.7's ast.parse can fail ("AST constructor recursion depth mismatch") when pytest
# parses a large generated SDK module to draw a long traceback, which turns one failing test into an INTERNALERROR.
# A worker per CPU, at most 4 (pytest-xdist): the machine tiers (e2e, engine) are one unit of work, run in file order
# by one worker; tests/kube and tests/emulators (free loopback ports, no Docker) are a unit each; the CPU-bound unit,
# policy and providers tests are spread over all workers as they come free (tests/conftest.py schedules).
# The 30 slowest tests are listed at the end, to keep an eye on CI time.
workers=$(nproc)
[ "$workers" -le 4 ] || workers=4
"$VENV/bin/python" -m pytest -p no:cacheprovider --tb=native -n "$workers" --durations=30 "$@"
