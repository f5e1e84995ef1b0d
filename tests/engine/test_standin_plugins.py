"""The stand-in plugins under the real CLI and engine: a small Python program declaring random, tls and docker
resources goes through `pulumi up`, `preview --expect-no-changes`, `refresh`, a container replacement and `destroy` on
a file:// backend, with tests/support/plugins/bin first on PATH (ambient plugins, no download)."""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from tests.engine.conftest import PASSPHRASE, Project, clean_environ
from tests.support.engine_docker import remove_labelled
from tests.support.plugins.client import BIN
from tests.support.pulumi_runtime import SECRET_SIG

IMAGE = "registries-standin-engine:1"
PROGRAM = """
import pulumi
import pulumi_docker as docker
import pulumi_random as random
import pulumi_tls as tls

config = pulumi.Config()
session = config.require("session")
password = random.RandomPassword("password", length=20, special=False)
key = tls.PrivateKey("key", algorithm="ECDSA", ecdsa_curve="P256")
cert = tls.SelfSignedCert(
    "cert",
    private_key_pem=key.private_key_pem,
    subject=tls.SelfSignedCertSubjectArgs(common_name="standin"),
    validity_period_hours=24,
    allowed_uses=["server_auth"],
)
image = docker.RemoteImage("image", name=config.require("image"), keep_locally=True)
volume = docker.Volume("data", name=f"standin-engine-{session}")
container = docker.Container(
    "app",
    image=image.image_id,
    entrypoints=["/bin/sh", "-c", "sleep 3600"],
    envs=[f"VALUE={config.get('value') or 'one'}"],
    uploads=[
        docker.ContainerUploadArgs(file="/etc/app/plain.txt", content="plain-canary"),
        docker.ContainerUploadArgs(file="/etc/app/secret.txt", content=password.result),
    ],
    volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path="/data")],
    healthcheck=docker.ContainerHealthcheckArgs(tests=["CMD", "/bin/sh", "-c", "true"], interval="1s"),
    wait=True,
)
pulumi.export("containerName", container.name)
pulumi.export("containerId", container.id)
pulumi.export("password", password.result)
pulumi.export("certPem", cert.cert_pem)
"""


@pytest.fixture(scope="module")
def test_image(docker_client: docker.DockerClient) -> Iterator[str]:
    """A FROM scratch image with busybox as sh and sleep (nothing can be pulled here)."""
    busybox = Path("/bin/busybox").read_bytes()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in {"Dockerfile": b"FROM scratch\nCOPY sh /bin/sh\nCOPY sh /bin/sleep\n", "sh": busybox}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    docker_client.images.build(fileobj=io.BytesIO(context.getvalue()), custom_context=True, tag=IMAGE, rm=True)
    yield IMAGE
    docker_client.images.remove(IMAGE, force=True)


def program_project(tmp_path: Path, toolchain_bin: Path, name: str, program: str) -> Project:
    """A Python program in `tmp_path/program` run by the toolchain's CLI on a file:// backend of its own, with the
    stand-ins first on PATH (ambient plugins, nothing downloaded) and this test's Python for them and the program;
    the environment keeps no PULUMI_*, AWS_* or virtualenv variable of the caller."""
    directory = tmp_path / "program"
    directory.mkdir()
    runtime = f"name: {name}\nruntime:\n  name: python\n  options:\n    virtualenv: {sys.prefix}\n"
    (directory / "Pulumi.yaml").write_text(runtime)
    (directory / "__main__.py").write_text(textwrap.dedent(program))
    (tmp_path / "state").mkdir()
    env = {k: v for k, v in clean_environ(os.environ).items() if not k.startswith("AWS_")}
    env.update(
        PATH=os.pathsep.join([str(BIN), str(toolchain_bin), env.get("PATH", os.defpath)]),
        PULUMI_HOME=str(tmp_path / "pulumi-home"),
        PULUMI_BACKEND_URL=f"file://{tmp_path / 'state'}",
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        REGISTRIES_STANDIN_PYTHON=sys.executable,
    )
    return Project(directory, tmp_path, env)


@pytest.fixture
def standin_project(tmp_path: Path, toolchain_bin: Path, docker_client: docker.DockerClient) -> Iterator[Project]:
    session = uuid.uuid4().hex[:8]
    project = program_project(tmp_path, toolchain_bin, "standin-check", PROGRAM)
    project.env["REGISTRIES_STANDIN_SESSION"] = f"standin-engine-{session}"
    project.pulumi("stack", "init", "test")
    project.pulumi("config", "set", "session", session)
    try:
        yield project
    finally:
        remove_labelled(docker_client, f"registries.e2e=standin-engine-{session}")


def _cat(container: Any, path: str) -> str:
    """A file's content, read through the archive API (the image has no cat)."""
    archive, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(archive))) as tar:
        member = tar.extractfile(Path(path).name)
        assert member is not None, path
        return member.read().decode()


def _resources(project: Project) -> dict[str, dict[str, Any]]:
    state = json.loads(project.export("test"))
    return {r["urn"].split("::")[-1]: r for r in state["deployment"]["resources"]}


def _step_ops(event_log: Path, name: str) -> list[str]:
    """The ops the engine started for resource `name`, in order, from `--event-log` (one JSON event a line)."""
    ops = []
    for line in event_log.read_text().splitlines():
        pre = json.loads(line).get("resourcePreEvent")
        if pre and pre["metadata"]["urn"].endswith(f"::{name}"):
            ops.append(pre["metadata"]["op"])
    return ops


def test_up_no_change_refresh_replace_destroy(
    standin_project: Project, test_image: str, docker_client: docker.DockerClient
) -> None:
    project = standin_project
    project.pulumi("config", "set", "image", test_image)
    project.pulumi("up", "--yes")
    outputs = project.outputs("test")
    container = docker_client.containers.get(outputs["containerId"])
    assert container.status == "running"
    assert container.name == outputs["containerName"]
    assert str(container.name).startswith("app-")  # autonamed by the stand-in's Check
    assert _cat(container, "/etc/app/plain.txt") == "plain-canary"
    assert _cat(container, "/etc/app/secret.txt") == outputs["password"]
    assert outputs["certPem"].startswith("-----BEGIN CERTIFICATE-----")

    # The engine stores the uploads per element: the plain file in plain, the password encrypted, nowhere in plain.
    exported = project.export("test")
    assert outputs["password"] not in exported
    app = _resources(project)["app"]
    for side in ("inputs", "outputs"):
        uploads = app[side]["uploads"]
        assert isinstance(uploads, list), f"{side}.uploads was raised to a secret as a whole: {uploads}"
        assert uploads[0]["content"] == "plain-canary"
        assert SECRET_SIG in uploads[1]["content"]
    password_state = _resources(project)["password"]["outputs"]
    assert SECRET_SIG in password_state["result"]
    assert SECRET_SIG in password_state["bcryptHash"]

    project.pulumi("preview", "--expect-no-changes")
    project.pulumi("refresh", "--yes")
    project.pulumi("preview", "--expect-no-changes")

    # An env change replaces the container (ForceNew), delete-first as pulumi-docker asks.
    project.pulumi("config", "set", "value", "two")
    event_log = project.home / "replace-events.json"
    project.pulumi("up", "--yes", "--event-log", str(event_log), env={"PULUMI_DEBUG_COMMANDS": "true"})
    ops = _step_ops(event_log, "app")
    assert ops.index("delete-replaced") < ops.index("create-replacement"), ops
    replaced = project.outputs("test")
    assert replaced["containerId"] != outputs["containerId"]
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(outputs["containerId"])
    assert "VALUE=two" in docker_client.containers.get(replaced["containerId"]).attrs["Config"]["Env"]
    assert replaced["password"] == outputs["password"]  # nothing else changed
    project.pulumi("preview", "--expect-no-changes")

    project.pulumi("destroy", "--yes")
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(replaced["containerId"])
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(f"standin-engine-{project.env['REGISTRIES_STANDIN_SESSION'][15:]}")
    assert [r for r in json.loads(project.export("test"))["deployment"].get("resources") or []] == []
