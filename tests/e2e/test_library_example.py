"""examples/library applied by the local engine onto the real Docker Engine, then used as its owner would:
log in with the RandomPassword, push and pull at the RandomPet hostname.

`<pet>.localhost` is loopback by RFC 6761, but this machine's resolver (glibc, no systemd-resolved) does not
know it and would ask a DNS server off the machine. So, as a user of such a machine would, the test maps the
name to 127.0.0.1 in /etc/hosts, and only after that does anything resolve it (the registry container checks
its health on 127.0.0.1); the file is restored byte for byte afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from examples.library.__main__ import USER, library_program
from tests.e2e.conftest import Deployment
from tests.support.images import build_scratch_image
from tests.support.pulumi_runtime import run_program

pytestmark = pytest.mark.e2e

HOSTS = Path("/etc/hosts")
MARK = "# registries-e2e library example"
PORT = 5443
GO_HOSTS_CACHE_SECONDS = 5
"""Go programs such as dockerd re-read /etc/hosts at most this often."""


def _without_our_lines(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.rstrip().endswith(MARK))


@pytest.fixture
def hosts_file() -> Iterator[Path]:
    """/etc/hosts as found (a line a killed earlier run left is dropped), restored exactly afterwards."""
    original = HOSTS.read_text()
    HOSTS.write_text(_without_our_lines(original))
    try:
        yield HOSTS
    finally:
        HOSTS.write_text(_without_our_lines(original))


def test_library_example_deploys_and_serves_push_and_pull_with_the_random_password(
    deployment: Deployment, docker_client: docker.DockerClient, hosts_file: Path
):
    deployment.engine.begin_run()
    outputs = run_program(
        deployment.engine, stack="library", config={"registries:port": str(PORT)}, program=library_program
    )
    deployment.engine.end_run()

    endpoint = outputs["endpoint"].value
    pet, _, port = endpoint.rpartition(":")
    assert pet.endswith(".localhost")
    assert pet != ".localhost"
    assert port == str(PORT)
    assert outputs["password"].secret
    password = outputs["password"].value
    container = docker_client.containers.get(outputs["containerName"].value)
    assert container.ports["5000/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(PORT)}]

    with hosts_file.open("a") as hosts:
        hosts.write(f"127.0.0.1 {pet} {MARK}\n")
    time.sleep(GO_HOSTS_CACHE_SECONDS + 0.5)  # so the daemon's next lookup reads the new line

    client = deployment.client({"endpoint": endpoint, "caCertPem": outputs["caCertPem"].value})
    assert client.login(USER, "not-the-password", check=False).returncode != 0
    assert "Login Succeeded" in client.login(USER, password).stdout
    source = f"e2e-src/library-{os.getpid()}:latest"
    build_scratch_image(docker_client, source, [os.urandom(4096)])
    try:
        pushed = client.push(source, "team/library", "1")
        client.remove_local("team/library", "1")
        assert client.pull("team/library", "1") == pushed
        client.remove_local("team/library", "1")
    finally:
        docker_client.images.remove(source, force=True)
    tags = client.api("GET", "/v2/team/library/tags/list", auth=(USER, password))
    assert tags.json() == {"name": "team/library", "tags": ["1"]}
