"""The stand-in provider plugins over gRPC, started as the engine starts them (no CLI): random and tls in process,
docker against the real Docker Engine."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import bcrypt
import docker
import docker.errors
import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2

from tests.support.engine_docker import remove_labelled
from tests.support.plugins.client import BIN, PluginProcess, start_plugin, urn
from tests.support.plugins.server import UNKNOWN
from tests.support.pulumi_runtime import is_secret, unwrap, wrap_secret

DIFF_NONE = provider_pb2.DiffResponse.DIFF_NONE
DIFF_SOME = provider_pb2.DiffResponse.DIFF_SOME
PASSWORD = "random:index/randomPassword:RandomPassword"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"
CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
SESSION = "standin-unit"
IMAGE = "registries-standin-test:1"


def _plugin(name: str, **env: str) -> Iterator[PluginProcess]:
    plugin = start_plugin(name, env={"REGISTRIES_STANDIN_SESSION": SESSION, **env})
    try:
        yield plugin
    finally:
        plugin.stop()


@pytest.fixture(scope="module")
def random_plugin() -> Iterator[PluginProcess]:
    yield from _plugin("random")


@pytest.fixture(scope="module")
def tls_plugin() -> Iterator[PluginProcess]:
    yield from _plugin("tls")


@pytest.fixture(scope="module")
def docker_client(machine_lock: None) -> Iterator[docker.DockerClient]:
    """Under the machine lock (tests/conftest.py): the objects made here carry the e2e label, which another run's
    stale-object sweep would otherwise take while they are in use."""
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
    yield from _plugin("docker")


@pytest.mark.parametrize("name", ["docker", "random", "tls"])
def test_each_plugin_reports_the_version_its_sdk_requests(name: str) -> None:
    expected = json.loads(resources.files(f"pulumi_{name}").joinpath("pulumi-plugin.json").read_text())["version"]
    for plugin in _plugin(name):
        assert plugin.stub.GetPluginInfo(empty_pb2.Empty()).version == expected
        configured = plugin.configure()
        assert configured.acceptSecrets
        assert configured.supportsPreview
        schema = json.loads(plugin.stub.GetSchema(provider_pb2.GetSchemaRequest()).schema)
        assert (schema["name"], schema["version"]) == (name, expected)


def test_random_password_result_and_hash_are_secret_and_a_second_diff_is_empty(random_plugin: PluginProcess) -> None:
    random_plugin.configure()
    target = urn(PASSWORD, "admin-password")
    news = random_plugin.check(target, {"length": 24, "special": False})
    assert news == {"length": 24, "special": False}

    ident, planned = random_plugin.create(target, news, preview=True)
    assert ident == ""
    assert planned["result"] == UNKNOWN
    assert planned["bcryptHash"] == UNKNOWN

    ident, outputs = random_plugin.create(target, news)
    assert ident == "none"
    assert is_secret(outputs["result"])
    assert is_secret(outputs["bcryptHash"])
    password = unwrap(outputs["result"])
    assert len(password) == 24
    assert password.isalnum()
    assert bcrypt.checkpw(password.encode(), unwrap(outputs["bcryptHash"]).encode())

    assert random_plugin.diff(target, ident, news, outputs, news).changes == DIFF_NONE
    changed = random_plugin.diff(target, ident, news, outputs, {**news, "length": 32})
    assert changed.changes == DIFF_SOME
    assert list(changed.replaces) == ["length"]
    assert not changed.deleteBeforeReplace

    found, read, inputs = random_plugin.read(target, ident, outputs, news)
    assert (found, read, inputs) == (ident, outputs, news)  # refresh changes nothing, secrets stay secret


def test_tls_private_key_is_secret_and_a_secret_input_comes_back_secret(tls_plugin: PluginProcess) -> None:
    tls_plugin.configure()
    key_urn = urn(PRIVATE_KEY, "ca-key")
    key_id, key = tls_plugin.create(key_urn, tls_plugin.check(key_urn, {"algorithm": "ECDSA", "ecdsaCurve": "P256"}))
    assert is_secret(key["privateKeyPem"])
    assert is_secret(key["privateKeyPemPkcs8"])
    assert not is_secret(key["publicKeyPem"])
    assert len(key_id) == 40

    cert_urn = urn(SELF_SIGNED, "ca")
    news = tls_plugin.check(
        cert_urn,
        {
            "privateKeyPem": key["privateKeyPem"],  # a secret input, as the engine passes it
            "subject": {"commonName": "test CA"},
            "validityPeriodHours": 24,
            "allowedUses": ["cert_signing"],
            "isCaCertificate": True,
        },
    )
    assert is_secret(news["privateKeyPem"])
    ident, cert = tls_plugin.create(cert_urn, news)
    assert is_secret(cert["privateKeyPem"])
    assert cert["certPem"].startswith("-----BEGIN CERTIFICATE-----")
    assert not is_secret(cert["certPem"])

    early = tls_plugin.diff(cert_urn, ident, news, cert, {**news, "earlyRenewalHours": 2})
    assert early.changes == DIFF_SOME
    assert list(early.replaces) == []
    longer = tls_plugin.diff(cert_urn, ident, news, cert, {**news, "validityPeriodHours": 48})
    assert list(longer.replaces) == ["validityPeriodHours"]
    unknown = tls_plugin.diff(cert_urn, ident, news, cert, {**news, "privateKeyPem": UNKNOWN})
    assert list(unknown.replaces) == ["privateKeyPem"]  # a preview's unknown key plans a replacement


def test_an_unknown_type_fails_with_the_type_named(random_plugin: PluginProcess) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        random_plugin.check(urn("random:index/randomUuid:RandomNothing", "x"), {})
    assert "random:index/randomUuid:RandomNothing" in str(raised.value.details())  # pyright: ignore[reportAttributeAccessIssue]


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


def test_a_python_without_the_dev_requirements_is_named(tmp_path: Path) -> None:
    """The plugin fails at start naming what to set, not with a traceback the engine shows as a broken plugin."""
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')  # no site-packages: grpc and pulumi missing
    python.chmod(0o755)
    env = {**os.environ, "REGISTRIES_STANDIN_PYTHON": str(python)}
    result = subprocess.run(
        [str(BIN / "pulumi-resource-tls"), "127.0.0.1:1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "cannot import" in result.stderr
    assert "set REGISTRIES_STANDIN_PYTHON" in result.stderr
