"""moto in a container that joins a registry's bridge network as `moto` (scale-out replicas cannot reach the
host's loopback), and the registry's containers found by Docker filters rather than by name."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import uuid
from pathlib import Path
from typing import Any

import docker
from docker.errors import NotFound

from tests.support.engine_docker import E2E_LABEL
from tests.support.local_engine import LocalEngine
from tests.support.moto_server import ROOT, MotoServer, start_moto
from tests.support.scale_out_images import PYTHON_RUNTIME_IMAGE

MOTO_ALIAS = "moto"
"""moto's name on the registry's network; the registry's S3 endpoint is http://moto:5000."""
MOTO_ENDPOINT_ON_NETWORK = f"http://{MOTO_ALIAS}:5000"
NETWORK_TYPE = "docker:index/network:Network"


def start_moto_container(log_dir: Path, name: str | None = None) -> tuple[MotoServer, str]:
    """moto (IAM enforcement on) in a container of the Python runtime image, published on 127.0.0.1 only;
    (server, container name). Stop with `stop_moto_container`."""
    name = name or f"e2e-moto-{uuid.uuid4().hex[:8]}"
    python_home, venv = sys.base_prefix, str(Path(sys.prefix).resolve())
    mounts = [arg for path in ("/usr", python_home, venv) for arg in ("-v", f"{path}:{path}:ro")]

    def command(port: int) -> list[str]:
        return [
            *("docker", "run", "--rm", "--name", name, "-p", f"127.0.0.1:{port}:5000"),
            *("-e", "INITIAL_NO_AUTH_ACTION_COUNT", "-e", "MOTO_ALLOW_NONEXISTENT_REGION", *mounts),
            # moto with S3's per-object authorization of multi-object deletes (tests/support/moto_main.py).
            *("-v", f"{ROOT}:{ROOT}:ro", "-w", str(ROOT)),
            *(
                PYTHON_RUNTIME_IMAGE,
                f"{venv}/bin/python",
                "-m",
                "tests.support.moto_main",
                "-H",
                "0.0.0.0",
                "-p",
                "5000",
            ),
        ]

    return start_moto(log_dir, command), name


def stop_moto_container(client: docker.DockerClient, server: MotoServer, name: str) -> None:
    """Stop moto and remove its container (with any anonymous volume), whether or not `--rm` got to it."""
    server.stop()
    with contextlib.suppress(NotFound):
        client.containers.get(name).remove(force=True, v=True)


def join_created_networks(engine: LocalEngine, client: docker.DockerClient, container: str, alias: str) -> None:
    """Connect `container` (as `alias`) to every Docker network the engine creates, right after it is created:
    before any registry replica starts, so their first S3 request finds moto."""
    backend = next(b for b in engine.backends if b.prefixes == ("docker:",))
    create = backend.create

    def create_then_join(typ: str, logical: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        created = create(typ, logical, inputs)
        if typ == NETWORK_TYPE:
            client.networks.get(created[0]).connect(container, aliases=[alias])
        return created

    engine.backends[engine.backends.index(backend)] = dataclasses.replace(backend, create=create_then_join)


def session_network(client: docker.DockerClient, session: str) -> Any:
    """The one Docker network a local-engine session created (found by the session label, not by its name)."""
    networks = client.networks.list(filters={"label": f"{E2E_LABEL}={session}"})
    if len(networks) != 1:
        raise RuntimeError(f"session {session} has {len(networks)} networks, expected 1")
    return networks[0]


def containers_of(client: docker.DockerClient, session: str, network: Any, image: str) -> list[Any]:
    """The session's containers on `network` that run `image` (or an image built from it), by name order.
    Survives any naming scheme: nothing here reads or builds a container name."""
    filters = {"label": f"{E2E_LABEL}={session}", "network": network.id, "ancestor": image}
    return sorted(client.containers.list(all=True, filters=filters), key=lambda c: c.name)
