"""Distribution 2.8 and 3.x side by side (issue 25): the container runs the config the program uploaded, a registry
running an image's built-in config never counts as healthy, and a stack on 2.8 moves to 3.x (and back) with one
`up`, keeping every image (volume or S3 prefix)."""

from __future__ import annotations

import copy
import os
import time
from typing import Any

import docker
import pytest
import requests

from components.selfhosted.versions import REGISTRY_2_IMAGE, REGISTRY_3_IMAGE
from tests.e2e.conftest import Deployment
from tests.support.e2e_stack import s3_storage_stack
from tests.support.engine_aws import AwsApplier
from tests.support.engine_docker import E2E_LABEL
from tests.support.images import build_scratch_image
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.e2e

BUILT_IN_PORT = 5770


def _health_status(container: Any) -> str:
    container.reload()
    return container.attrs["State"].get("Health", {}).get("Status", "none")


def test_the_container_serves_the_uploaded_config_and_a_built_in_config_never_counts_as_healthy(
    deployment: Deployment, docker_client: docker.DockerClient, base_stack, each_registry_image: str
):
    name, spec = base_stack
    spec = {**copy.deepcopy(spec), "image": each_registry_image}
    outputs = deployment.apply(name, spec)
    deployed = deployment.registry_container(outputs)
    config = "/etc/distribution/config.yml" if each_registry_image.startswith("registry:3") else None
    config = config or "/etc/docker/registry/config.yml"
    assert deployed.attrs["Config"]["Cmd"] == ["registry", "serve", config]
    assert _health_status(deployed) == "healthy"
    client = deployment.client(outputs)
    assert client.api("GET", "/v2/").status_code == 401

    # The same image with its default command runs its built-in config: plain HTTP, no auth. With the deployed
    # container's health check it must never become healthy.
    healthcheck = deployed.attrs["Config"]["Healthcheck"]
    built_in = docker_client.containers.run(
        each_registry_image,
        detach=True,
        name=f"e2e-built-in-{each_registry_image.split(':')[1]}",
        ports={"5000/tcp": ("127.0.0.1", BUILT_IN_PORT)},
        healthcheck={**healthcheck, "Interval": 1_000_000_000, "StartPeriod": 0, "Retries": 2},
        labels={E2E_LABEL: "built-in-config"},
    )
    try:
        deadline = time.monotonic() + 60
        while _health_status(built_in) not in ("unhealthy", "healthy") and time.monotonic() < deadline:
            time.sleep(0.5)
        anonymous = requests.get(f"http://127.0.0.1:{BUILT_IN_PORT}/v2/", timeout=10)
        print(f"built-in config: GET /v2/ over plain HTTP answers {anonymous.status_code} without credentials")
        assert anonymous.status_code == 200  # what the health check must refuse: an open plain-HTTP registry
        assert _health_status(built_in) == "unhealthy"
    finally:
        built_in.remove(force=True, v=True)


def _images(docker_client: docker.DockerClient, count: int) -> list[str]:
    tags = []
    for index in range(count):
        tag = f"e2e-src/upgrade-{index}:latest"
        build_scratch_image(docker_client, tag, [os.urandom(32 * 1024), os.urandom((index + 1) * 512 * 1024)])
        tags.append(tag)
    return tags


def _push_all(deployment: Deployment, docker_client: docker.DockerClient, outputs: dict[str, Any]) -> dict[str, str]:
    client = deployment.client(outputs)
    user, password = next(iter(outputs["users"].items()))
    client.login(user, password)
    return {
        f"team/app-{i}": client.push(tag, f"team/app-{i}", "1.0") for i, tag in enumerate(_images(docker_client, 3))
    }


def _every_image_pulls_by_digest(deployment: Deployment, outputs: dict[str, Any], pushed: dict[str, str]) -> None:
    client = deployment.client(outputs)
    user, password = next(iter(outputs["users"].items()))
    client.login(user, password)
    for repository, digest in pushed.items():
        client.docker("pull", f"{client.endpoint}/{repository}@{digest}")
        client.docker("rmi", "--force", f"{client.endpoint}/{repository}@{digest}")
        assert client.pull(repository, "1.0") == digest
        client.remove_local(repository, "1.0")


def _upgrade_and_roll_back(deployment: Deployment, docker_client: docker.DockerClient, name: str, spec: dict) -> None:
    old = deployment.apply(name, {**spec, "image": REGISTRY_2_IMAGE})
    pushed = _push_all(deployment, docker_client, old)
    before = deployment.registry_container(old)

    upgraded = deployment.apply(name, {**spec, "image": REGISTRY_3_IMAGE})
    after = deployment.registry_container(upgraded)
    assert after.id != before.id
    assert after.attrs["Config"]["Cmd"] == ["registry", "serve", "/etc/distribution/config.yml"]
    assert upgraded["volumeName"] == old["volumeName"]
    assert upgraded["bucket"] == old["bucket"]
    assert upgraded["users"] == old["users"]
    replaced = {resource for op, _typ, resource in deployment.engine.changed() if op == "replace"}
    print(f"upgrade 2.8 -> 3.x replaced {sorted(replaced)}")
    assert replaced <= {"selfhosted-registry", "selfhosted-image"}, replaced
    _every_image_pulls_by_digest(deployment, upgraded, pushed)

    # Roll back: the same storage layout, so 2.8 serves what 3.x stored (and a push made on 3.x).
    client = deployment.client(upgraded)
    user, password = next(iter(upgraded["users"].items()))
    client.login(user, password)
    pushed["team/on-3"] = client.push(_images(docker_client, 1)[0], "team/on-3", "1.0")
    back = deployment.apply(name, {**spec, "image": REGISTRY_2_IMAGE})
    assert deployment.registry_container(back).attrs["Config"]["Cmd"][-1] == "/etc/docker/registry/config.yml"
    _every_image_pulls_by_digest(deployment, back, pushed)


def test_a_stack_on_2_8_moves_to_3_with_one_up_keeping_its_volume_and_every_image(
    deployment: Deployment, docker_client: docker.DockerClient, base_stack
):
    name, spec = base_stack
    _upgrade_and_roll_back(deployment, docker_client, name, copy.deepcopy(spec))


def test_a_stack_on_2_8_with_s3_moves_to_3_with_one_up_keeping_its_prefix_and_every_image(
    deployment: Deployment, docker_client: docker.DockerClient, base_stack, moto: MotoServer
):
    deployment.engine.add_backend(AwsApplier(moto.endpoint, moto.admin_key, moto.admin_secret).backend())
    name, spec, bucket = s3_storage_stack(base_stack, moto.endpoint)
    spec.pop("ui", None)  # the UI reaches the registry over its Docker network; S3 here uses host networking
    _upgrade_and_roll_back(deployment, docker_client, name, spec)
    keys = [
        item["Key"]
        for page in moto.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    ]
    assert keys
    assert all(key.startswith("images/docker/registry/v2/") for key in keys), keys[:5]
