"""Images built here, since none can be pulled: the registry from Debian's docker-registry, and test images."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import docker

from registryctl.registry_client import scratch_context

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
BUSYBOX = Path("/bin/busybox")
APPLETS = ["sh", "wget", "cat", "ls", "sleep", "echo", "env", "ps", "nc", "mkdir", "rm"]

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
CMD ["/etc/docker/registry/config.yml"]
"""


def _linked_libraries(binary: Path) -> list[Path]:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
    return [Path(p) for p in re.findall(r"(/\S+\.so[.0-9]*)", out)]


def build_registry_image(client: docker.DockerClient, tags: list[str]) -> str:
    """Build the registry image (distribution 2.8.x from Debian) FROM scratch; returns its id."""
    for needed in (REGISTRY_BINARY, BUSYBOX):
        if not needed.exists():
            raise RuntimeError(f"{needed} is missing: install Debian's docker-registry and busybox-static")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rootfs"
        (root / "bin").mkdir(parents=True)
        shutil.copy2(REGISTRY_BINARY, root / "bin" / "registry")
        shutil.copy2(BUSYBOX, root / "bin" / "busybox")
        for applet in APPLETS:
            os.symlink("busybox", root / "bin" / applet)
        for lib in _linked_libraries(REGISTRY_BINARY):
            target = root / lib.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(lib.resolve(), target)
        (root / "etc" / "docker" / "registry").mkdir(parents=True)
        (root / "etc" / "docker" / "registry" / "config.yml").write_text(DEFAULT_CONFIG)
        (root / "etc" / "distribution").mkdir(parents=True)
        (root / "var" / "lib" / "registry").mkdir(parents=True)
        (root / "tmp").mkdir()
        (root / "tmp").chmod(0o1777)
        (root / "entrypoint.sh").write_text(ENTRYPOINT)
        (root / "entrypoint.sh").chmod(0o755)
        (Path(tmp) / "Dockerfile").write_text(DOCKERFILE)
        image, _ = client.images.build(path=tmp, tag=tags[0], rm=True, forcerm=True)
    for tag in tags[1:]:
        repository, _, version = tag.rpartition(":")
        image.tag(repository, version)
    return image.id or ""


def build_scratch_image(client: docker.DockerClient, tag: str, layers: list[bytes]) -> str:
    """A FROM scratch image with one layer per blob in `layers`; returns its id."""
    dockerfile = "FROM scratch\n" + "".join(f"COPY layer{i}.bin /data/layer{i}.bin\n" for i in range(len(layers)))
    files = {"Dockerfile": dockerfile.encode(), **{f"layer{i}.bin": blob for i, blob in enumerate(layers)}}
    image, _ = client.images.build(fileobj=io.BytesIO(scratch_context(files)), custom_context=True, tag=tag, rm=True)
    return image.id or ""
