"""The load balancer and Redis images of the scale-out scenarios, built here since none can be pulled:
FROM scratch images holding Debian's haproxy and redis-server binaries and the libraries they link,
tagged as the images the stack pins (haproxy reads the official image's config path)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import docker

from components.selfhosted.load_balancer import DEFAULT_LOAD_BALANCER_IMAGE, DEFAULT_REDIS_IMAGE
from tests.support.images import _linked_libraries

HAPROXY_BINARY = Path("/usr/sbin/haproxy")
REDIS_BINARY = Path("/usr/bin/redis-server")
REDIS_CLI = Path("/usr/bin/redis-cli")
BASH = Path("/bin/bash")
DOCKERFILE = "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\n"


def _build_binary_image(client: docker.DockerClient, binaries: dict[str, Path], tag: str, package: str) -> str:
    """A FROM scratch image holding each binary as /bin/<name> and the libraries they link; returns its id."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rootfs"
        (root / "bin").mkdir(parents=True)
        for name, binary in binaries.items():
            if not binary.exists():
                raise RuntimeError(f"{binary} is missing: install Debian's {package} (scripts/test.sh APT_PACKAGES)")
            shutil.copy2(binary.resolve(), root / "bin" / name)
            for lib in _linked_libraries(binary):
                target = root / lib.relative_to("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(lib.resolve(), target)
        for directory in ("tmp", "data", "usr/local/etc/haproxy", "usr/local/etc/redis"):
            (root / directory).mkdir(parents=True, exist_ok=True)
        (root / "tmp").chmod(0o1777)
        (Path(tmp) / "Dockerfile").write_text(DOCKERFILE + "WORKDIR /data\n")
        image, _ = client.images.build(path=tmp, tag=tag, rm=True, forcerm=True)
    return image.id or ""


PYTHON_RUNTIME_IMAGE = "e2e-python-runtime:local"


def build_python_runtime_image(client: docker.DockerClient) -> str:
    """An empty image whose /bin, /lib and /lib64 point into /usr: run with this host's /usr and the venv bind-mounted
    read-only, it runs this machine's Python (moto on the registry's Docker network, which cannot reach the host's
    loopback)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rootfs"
        root.mkdir()
        for link in ("bin", "lib", "lib64", "sbin"):
            (root / link).symlink_to(f"usr/{link}")
        for directory in ("usr", "tmp", "work", "etc"):
            (root / directory).mkdir()
        (root / "tmp").chmod(0o1777)
        (Path(tmp) / "Dockerfile").write_text(DOCKERFILE)
        image, _ = client.images.build(path=tmp, tag=PYTHON_RUNTIME_IMAGE, rm=True, forcerm=True)
    return image.id or ""


def build_load_balancer_image(client: docker.DockerClient, tag: str = DEFAULT_LOAD_BALANCER_IMAGE) -> str:
    # bash too, as in the official (Debian) image: the container health check uses its /dev/tcp.
    return _build_binary_image(client, {"haproxy": HAPROXY_BINARY, "bash": BASH}, tag, "haproxy")


def build_redis_image(client: docker.DockerClient, tag: str = DEFAULT_REDIS_IMAGE) -> str:
    # redis-cli too, as in the official image: the scenarios ask Redis what it holds.
    return _build_binary_image(client, {"redis-server": REDIS_BINARY, "redis-cli": REDIS_CLI}, tag, "redis-server")
