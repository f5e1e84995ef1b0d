"""The stand-in docker plugin over gRPC, started as the engine starts it (no CLI), against the real Docker Engine:
container uploads keep secretness per element, volumes and remote images. Under the machine lock (tests/conftest.py):
the objects made here carry the e2e label, which another run's stale-object sweep would otherwise take."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import grpc
import pytest
from pulumi.runtime.proto import provider_pb2

from tests.support.engine_docker import remove_labelled
from tests.support.plugins.client import PluginProcess, running_plugin, urn
from tests.support.plugins.server import UNKNOWN
from tests.support.pulumi_runtime import is_secret, wrap_secret

DIFF_NONE = provider_pb2.DiffResponse.DIFF_NONE
DIFF_SOME = provider_pb2.DiffResponse.DIFF_SOME
CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
SESSION = "standin-unit"
IMAGE = "registries-standin-test:1"


@pytest.fixture(scope="module")
def docker_client(machine_lock: None) -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    client.ping()  # no Docker Engine fails the tests, never skips them
    busybox = Path("/bin/busybox").read_bytes()
    files = {"Dockerfile": b"FROM scratch\nCOPY sh /bin/sh\nCOPY sh /bin/sleep\n", "sh": busybox}
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    client.images.build(fileobj=io.BytesIO(context.getvalue()), custom_context=True, tag=IMAGE, rm=True)
    try:
        yield client
    finally:
        remove_labelled(client, f"registries.e2e={SESSION}")
        client.images.remove(IMAGE, force=True)
        client.close()


@pytest.fixture(scope="module")
def docker_plugin(docker_client: docker.DockerClient) -> Iterator[PluginProcess]:
    with running_plugin("docker", {"REGISTRIES_STANDIN_SESSION": SESSION}) as plugin:
        yield plugin


def test_docker_container_uploads_keep_secretness_per_element(
    docker_plugin: PluginProcess, docker_client: docker.DockerClient
) -> None:
    docker_plugin.configure()
    target = urn(CONTAINER, "registry")
    inputs = {
        "image": IMAGE,
        "entrypoints": ["/bin/sh", "-c", "sleep 3600"],
        "uploads": [
            {"file": "/etc/registry/config.yml", "content": "version: 0.1\n"},
            {"file": "/auth/htpasswd", "content": wrap_secret("admin:$2y$hash\n")},
        ],
        "healthcheck": {"tests": ["CMD", "/bin/sh", "-c", "true"], "interval": "1s", "retries": 3},
        "wait": True,
    }
    news = docker_plugin.check(target, inputs)
    name = news["name"]
    assert name.startswith("registry-")
    assert len(name) == len("registry-") + 7
    assert news["uploads"][0] == inputs["uploads"][0]
    assert is_secret(news["uploads"][1]["content"])

    planned_id, planned = docker_plugin.create(target, news, preview=True)
    assert planned_id == ""
    assert planned["networkDatas"] == UNKNOWN
    assert not docker_client.containers.list(all=True, filters={"name": name})  # a preview touches nothing

    ident, outputs = docker_plugin.create(target, news)
    try:
        container = docker_client.containers.get(ident)
        assert container.status == "running"
        assert container.attrs["State"]["Health"]["Status"] == "healthy"
        archive, _ = container.get_archive("/auth/htpasswd")
        with tarfile.open(fileobj=io.BytesIO(b"".join(archive))) as tar:
            member = tar.extractfile("htpasswd")
            assert member is not None
            assert member.read() == b"admin:$2y$hash\n"
        # The engine stores what the provider returns: config.yml in plain, the htpasswd content secret.
        assert not is_secret(outputs["uploads"])
        assert not is_secret(outputs["uploads"][0])
        assert outputs["uploads"][0]["content"] == "version: 0.1\n"
        assert is_secret(outputs["uploads"][1]["content"])
        assert outputs["name"] == name

        assert docker_plugin.diff(target, ident, news, outputs, news).changes == DIFF_NONE
        image_change = docker_plugin.diff(target, ident, news, outputs, {**news, "image": "other:1"})
        assert list(image_change.replaces) == ["image"]
        assert image_change.deleteBeforeReplace
        restart = docker_plugin.diff(target, ident, news, outputs, {**news, "restart": "always"})
        assert restart.changes == DIFF_SOME
        assert not restart.replaces
        assert not restart.deleteBeforeReplace

        updated = docker_plugin.update(target, ident, news, outputs, {**news, "restart": "always"})
        assert docker_client.api.inspect_container(ident)["HostConfig"]["RestartPolicy"]["Name"] == "always"
        assert is_secret(updated["uploads"][1]["content"])
        assert not is_secret(updated["uploads"][0])

        found, read, read_inputs = docker_plugin.read(target, ident, outputs, news)
        assert found == ident
        assert read["name"] == name
        assert is_secret(read["uploads"][1]["content"])
        assert not is_secret(read["uploads"][0]["content"])
        assert is_secret(read_inputs["uploads"][1]["content"])
    finally:
        docker_plugin.delete(target, ident, outputs, news)
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(ident)
    found, _, _ = docker_plugin.read(target, ident, outputs, news)
    assert found == ""  # refresh of a deleted container: gone from state


def test_docker_volume_and_remote_image(docker_plugin: PluginProcess, docker_client: docker.DockerClient) -> None:
    docker_plugin.configure()
    volume_urn = urn(VOLUME, "data")
    news = docker_plugin.check(volume_urn, {"name": "standin-unit-data"})
    ident, outputs = docker_plugin.create(volume_urn, news)
    assert ident == "standin-unit-data"
    assert docker_client.volumes.get(ident).name == ident
    assert docker_plugin.read(volume_urn, ident, outputs, news)[0] == ident
    renamed = docker_plugin.diff(volume_urn, ident, news, outputs, {"name": "standin-unit-other"})
    assert list(renamed.replaces) == ["name"]
    assert not renamed.deleteBeforeReplace
    docker_plugin.delete(volume_urn, ident, outputs, news)
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(ident)

    image_urn = urn(REMOTE_IMAGE, "image")
    ident, outputs = docker_plugin.create(image_urn, {"name": IMAGE})
    assert outputs["imageId"] == docker_client.images.get(IMAGE).id
    assert ident.startswith(outputs["imageId"])
    with pytest.raises(grpc.RpcError) as raised:
        docker_plugin.create(image_urn, {"name": "registries-standin-absent:1"})
    assert "registries-standin-absent:1" in str(raised.value.details())  # pyright: ignore[reportAttributeAccessIssue]
