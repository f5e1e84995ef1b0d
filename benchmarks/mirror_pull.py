"""Pull of one image (default 200 MB) from the upstream directly vs through a cold and a warm mirror, in one run.

The upstream is the registry image (distribution 2.8.2 built here) serving TLS from a private CA without
auth on 127.0.0.1:5650 (2.8's proxy logs in to Bearer-token upstreams only); the mirror is the program's
selfHosted registry in mode: mirror (TLS + htpasswd, host networking, trusting the upstream's CA), applied
by the local engine. Each pull starts with no local copy of the image. Prints wall seconds, MB/s, the
upstream's blob GETs per case and the ratios to the direct pull. Everything it starts is removed at the end.

    flock /tmp/registries-e2e.lock .venv/bin/python -m benchmarks.mirror_pull [--size-mb 200] [--layer-mb 20]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import secrets
import tarfile
import time
import uuid
from typing import Any

import docker
from docker.errors import ImageNotFound

from benchmarks.registry_throughput import _fresh_image
from tests.support.e2e_stack import provided_certificate
from tests.support.engine_docker import E2E_LABEL, DockerApplier
from tests.support.images import build_registry_images
from tests.support.local_engine import LocalEngine
from tests.support.pulumi_runtime import run_program
from tests.support.registry_client import RegistryUser

UPSTREAM_PORT = 5650
MIRROR_PORT = 5700
REPOSITORY = "bench/payload"


def start_upstream(client: docker.DockerClient, session: str) -> tuple[Any, str]:
    """The anonymous TLS upstream; returns (container, CA PEM)."""
    cert, key, ca = provided_certificate("localhost")
    container = client.containers.create(
        "registry:2.8.3",
        environment={
            "REGISTRY_HTTP_TLS_CERTIFICATE": "/certs/server.crt",
            "REGISTRY_HTTP_TLS_KEY": "/certs/server.key",
        },
        ports={"5000/tcp": ("127.0.0.1", UPSTREAM_PORT)},
        labels={E2E_LABEL: session},
        name=f"bench-upstream-{session}",
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, content in (("certs/server.crt", cert), ("certs/server.key", key)):
            info = tarfile.TarInfo(path)
            info.size = len(content.encode())
            tar.addfile(info, io.BytesIO(content.encode()))
    container.put_archive("/", buffer.getvalue())
    container.start()
    return container, ca


def blob_gets(container: Any) -> int:
    logs = container.logs().decode(errors="replace")
    return sum(
        1
        for line in logs.splitlines()
        if "response completed" in line and "http.request.method=GET" in line and "/blobs/sha256:" in line
    )


def timed_pull(client: docker.DockerClient, user: RegistryUser, tag: str) -> float:
    """Pull with no local copy under any name (the daemon skips layers it has)."""
    for port in (UPSTREAM_PORT, MIRROR_PORT):
        with contextlib.suppress(ImageNotFound):
            client.images.remove(f"localhost:{port}/{REPOSITORY}:{tag}", force=True)
    started = time.monotonic()
    user.docker("pull", f"{user.endpoint}/{REPOSITORY}:{tag}")
    return time.monotonic() - started


def wait_stored(mirror: Any, upstream: RegistryUser, tag: str, timeout: float = 300) -> None:
    """The proxy stores a missed blob in the background after streaming it: wait until all are on disk."""
    manifest = upstream.api(
        "GET",
        f"/v2/{REPOSITORY}/manifests/{tag}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    ).json()
    digests = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]
    deadline = time.monotonic() + timeout
    for digest in digests:
        hex_digest = digest.removeprefix("sha256:")
        path = f"/var/lib/registry/docker/registry/v2/blobs/sha256/{hex_digest[:2]}/{hex_digest}/data"
        while mirror.exec_run(["ls", path]).exit_code != 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{digest} never reached the mirror's storage")
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--layer-mb", type=int, default=20)
    args = parser.parse_args()
    client = docker.from_env(timeout=300)
    session = uuid.uuid4().hex[:10]
    build_registry_images(client, ["registry:2.8.3"])
    applier = DockerApplier(client, session)
    users: list[RegistryUser] = []
    source = ""
    try:
        upstream_container, ca = start_upstream(client, session)
        upstream = RegistryUser(f"localhost:{UPSTREAM_PORT}", ca)
        users.append(upstream)
        source, megabytes = _fresh_image(client, args.size_mb, args.layer_mb)
        tag = "1.0"
        upstream.docker("tag", source, f"{upstream.endpoint}/{REPOSITORY}:{tag}")
        upstream.docker("push", f"{upstream.endpoint}/{REPOSITORY}:{tag}")
        client.images.remove(source, force=True)

        password = secrets.token_urlsafe(24)
        spec = {
            "name": f"bench-mirror-{session}",
            "port": MIRROR_PORT,
            "networkMode": "host",
            "users": [{"name": "reader", "password": password}],
            "mode": "mirror",
            "mirror": {"upstream": f"https://localhost:{UPSTREAM_PORT}", "upstreamCaCertificate": ca},
        }
        engine = LocalEngine()
        engine.add_backend(applier.backend())
        engine.begin_run()
        config = {"registries:selfHosted": json.dumps(spec)}  # holds a password: a secret key, as --secret stores it
        outputs = {
            k: v.value for k, v in run_program(engine, stack="bench", config=config, secret_keys=list(config)).items()
        }
        engine.end_run()
        mirror = RegistryUser(outputs["endpoint"], outputs["caCertPem"])
        users.append(mirror)
        mirror.login("reader", password)
        mirror_container = client.containers.get(outputs["containerName"])

        results: dict[str, tuple[float, int]] = {}
        for case, user in (("direct", upstream), ("cold mirror", mirror), ("warm mirror", mirror)):
            before = blob_gets(upstream_container)
            seconds = timed_pull(client, user, tag)
            if case == "cold mirror":
                wait_stored(mirror_container, upstream, tag)
            results[case] = (seconds, blob_gets(upstream_container) - before)
        print(f"image: {megabytes:.0f} MB in {max(1, args.size_mb // args.layer_mb)} layers of random bytes")
        print(f"{'case':<12} {'seconds':>8} {'MB/s':>8} {'upstream blob GETs':>19} {'ratio to direct':>16}")
        direct = results["direct"][0]
        for case, (seconds, gets) in results.items():
            print(f"{case:<12} {seconds:>8.2f} {megabytes / seconds:>8.1f} {gets:>19} {seconds / direct:>16.2f}")
    finally:
        for user in reversed(users):
            user.close()
        applier.remove_everything()  # the mirror and its volume, the upstream (same session label)
        for ref in (source, f"localhost:{UPSTREAM_PORT}/{REPOSITORY}:1.0", f"localhost:{MIRROR_PORT}/{REPOSITORY}:1.0"):
            with contextlib.suppress(ImageNotFound):
                if ref:
                    client.images.remove(ref, force=True)


if __name__ == "__main__":
    main()
