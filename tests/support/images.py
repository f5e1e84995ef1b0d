"""Images built here, since none can be pulled: the registry images (2.8 from Debian's docker-registry, 3.x from
distribution's module built by Go from the Go module proxy), and test images."""

from __future__ import annotations

import fcntl
import io
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import docker

from components.selfhosted.versions import DISTRIBUTION_3_VERSION, REGISTRY_2_IMAGE
from registryctl.registry_client import scratch_context

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
BUSYBOX = Path("/bin/busybox")
APPLETS = ["sh", "wget", "cat", "ls", "sleep", "echo", "env", "ps", "nc", "mkdir", "rm", "grep", "cp"]
"""busybox applets in the registry images, as upstream's alpine-based images have them (the health check's sh, wget
and grep; cp: the Kubernetes GC job's init container copies /bin/registry out)."""
CACHE = Path(os.environ.get("REGISTRIES_CACHE", Path.home() / ".cache" / "registries"))
"""Build outputs (never in the repository): the Go-built registry binaries, one directory per version."""
DISTRIBUTION_MODULE = "github.com/distribution/distribution/v3/cmd/registry"

# Behaves like upstream's entrypoint.sh: a *.yml argument is a config path, `serve` and
# `garbage-collect` are registry sub-commands, anything else runs as given.
ENTRYPOINT = """#!/bin/sh
set -e
case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac
exec "$@"
"""

DEFAULT_CONFIG = """version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
"""

DOCKERFILE = """FROM scratch
COPY rootfs/ /
ENV PATH=/bin
VOLUME ["/var/lib/registry"]
EXPOSE 5000
ENTRYPOINT ["/entrypoint.sh"]
CMD ["{config}"]
"""
V2_CONFIG = "/etc/docker/registry/config.yml"
V3_CONFIG = "/etc/distribution/config.yml"
"""Where upstream's images keep their built-in config (plain HTTP, no auth) and what their CMD names."""


def _linked_libraries(binary: Path) -> list[Path]:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
    return [Path(p) for p in re.findall(r"(/\S+\.so[.0-9]*)", out)]


def registry_version(image: str) -> tuple[int, str]:
    """(major, version) of a registry image tag: registry:2.8.3 -> (2, "2.8.3"); a bare registry:3 builds the
    pinned 3.x release."""
    match = re.search(r":v?([0-9]+)((?:\.[0-9]+)*)$", image)
    if match is None:
        raise ValueError(f"{image!r}: the test image builder needs a tag naming the version (registry:3.1.2)")
    major = int(match.group(1))
    if major not in (2, 3):
        raise ValueError(f"{image!r}: only registry 2.x and 3.x images are built here")
    version = match.group(1) + match.group(2)
    return major, DISTRIBUTION_3_VERSION if major == 3 and version == "3" else version


def go_registry_binary(version: str) -> Path:
    """distribution's registry command at `version`, built static (CGO_ENABLED=0) by `go install` from the Go
    module proxy into CACHE/distribution-v<version>/bin/registry; built once per version (a lock keeps parallel
    sessions from building it twice)."""
    target = CACHE / f"distribution-v{version}" / "bin" / "registry"
    if target.exists():
        return target
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise RuntimeError(f"go is missing: it builds registry {version} ({DISTRIBUTION_MODULE}) from the module proxy")
    target.parent.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"distribution-v{version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        staging = Path(tempfile.mkdtemp(dir=target.parent))
        env = {**os.environ, "CGO_ENABLED": "0", "GOBIN": str(staging), "GOFLAGS": "-buildvcs=false"}
        built = subprocess.run(
            [go, "install", "-trimpath", "-ldflags=-s -w", f"{DISTRIBUTION_MODULE}@v{version}"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=CACHE,
        )
        if built.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError(f"go install {DISTRIBUTION_MODULE}@v{version} failed:\n{built.stderr[-4000:]}")
        (staging / "registry").rename(target)
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _registry_rootfs(root: Path, binary: Path, config_path: str) -> None:
    """The registry at /bin/registry with busybox (the health check's sh, wget and grep), the entrypoint and
    the image's built-in config at `config_path`, as upstream's images have them."""
    (root / "bin").mkdir(parents=True)
    shutil.copy2(binary, root / "bin" / "registry")
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS:
        os.symlink("busybox", root / "bin" / applet)
    for lib in _linked_libraries(binary):
        target = root / lib.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(lib.resolve(), target)
    for directory in ("etc/docker/registry", "etc/distribution", "var/lib/registry"):
        (root / directory).mkdir(parents=True)
    (root / config_path.lstrip("/")).write_text(DEFAULT_CONFIG)
    (root / "tmp").mkdir()
    (root / "tmp").chmod(0o1777)
    (root / "entrypoint.sh").write_text(ENTRYPOINT)
    (root / "entrypoint.sh").chmod(0o755)


def _build_registry(client: docker.DockerClient, binary: Path, config_path: str, tags: list[str]) -> str:
    if not BUSYBOX.exists():
        raise RuntimeError(f"{BUSYBOX} is missing: install Debian's busybox-static")
    with tempfile.TemporaryDirectory() as tmp:
        _registry_rootfs(Path(tmp) / "rootfs", binary, config_path)
        (Path(tmp) / "Dockerfile").write_text(DOCKERFILE.format(config=config_path))
        image, _ = client.images.build(path=tmp, tag=tags[0], rm=True, forcerm=True)
    for tag in tags[1:]:
        repository, _, version = tag.rpartition(":")
        image.tag(repository, version)
    return image.id or ""


def build_registry_image(client: docker.DockerClient, tags: list[str]) -> str:
    """Build the registry image (distribution 2.8.x from Debian) FROM scratch; returns its id."""
    if not REGISTRY_BINARY.exists():
        raise RuntimeError(f"{REGISTRY_BINARY} is missing: install Debian's docker-registry")
    return _build_registry(client, REGISTRY_BINARY, V2_CONFIG, tags)


def build_registry3_image(client: docker.DockerClient, tags: list[str], version: str = DISTRIBUTION_3_VERSION) -> str:
    """Build a distribution 3.x image FROM scratch around the static Go-built binary; returns its id."""
    return _build_registry(client, go_registry_binary(version), V3_CONFIG, tags)


def build_registry_images(client: docker.DockerClient, images: Iterable[str]) -> dict[str, str]:
    """Each registry image named (registry:2.8.3, registry:3.1.2, ...) built from its major's source, plus the
    2.8 image the tests' stand-in upstreams run; returns image name -> id."""
    by_version: dict[tuple[int, str], set[str]] = {}
    for image in {*images, REGISTRY_2_IMAGE}:
        by_version.setdefault(registry_version(image), set()).add(image)
    built: dict[str, str] = {}
    for (major, version), tags in sorted(by_version.items()):
        ordered = sorted(tags)
        if major == 2:
            image_id = build_registry_image(client, ordered)
        else:
            image_id = build_registry3_image(client, ordered, version)
        built.update(dict.fromkeys(ordered, image_id))
    return built


def build_scratch_image(client: docker.DockerClient, tag: str, layers: list[bytes]) -> str:
    """A FROM scratch image with one layer per blob in `layers`; returns its id."""
    dockerfile = "FROM scratch\n" + "".join(f"COPY layer{i}.bin /data/layer{i}.bin\n" for i in range(len(layers)))
    files = {"Dockerfile": dockerfile.encode(), **{f"layer{i}.bin": blob for i, blob in enumerate(layers)}}
    image, _ = client.images.build(fileobj=io.BytesIO(scratch_context(files)), custom_context=True, tag=tag, rm=True)
    return image.id or ""
