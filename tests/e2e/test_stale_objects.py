"""A run killed before its teardown leaves labelled Docker objects (a `local-registry-net` made the next run's first
`up` fail with 409 Conflict). The machine lock removes them before the next run deploys, and nothing else."""

from __future__ import annotations

import uuid

import docker
import docker.errors
import pytest

from tests.conftest import remove_stale_e2e_objects
from tests.support.engine_docker import E2E_LABEL

pytestmark = pytest.mark.e2e


def test_only_what_an_interrupted_run_labelled_is_removed(
    docker_client: docker.DockerClient, registry_images: dict[str, str]
) -> None:
    # A label of this test's own: the sweep of E2E_LABEL itself would take this run's live objects with it.
    left = f"stale-{uuid.uuid4().hex[:8]}"
    label = f"{E2E_LABEL}-{left}"
    image = next(iter(registry_images))
    network = docker_client.networks.create(f"{left}-net", labels={label: "killed-run"})
    volume = docker_client.volumes.create(f"{left}-data", labels={label: "killed-run"})
    docker_client.containers.create(
        image, name=left, labels={label: "killed-run"}, network=network.name, volumes={volume.name: {"bind": "/d"}}
    )
    users_volume = docker_client.volumes.create(f"{left}-users-data", labels={"registries.managed-by": "pulumi"})
    try:
        removed = remove_stale_e2e_objects(docker_client, label)
        assert {f"container {left}", f"network {left}-net", f"volume {left}-data"} <= set(removed)
        for gone in (
            lambda: docker_client.containers.get(left),
            lambda: docker_client.networks.get(f"{left}-net"),
            lambda: docker_client.volumes.get(volume.name),
        ):
            with pytest.raises(docker.errors.NotFound):
                gone()
        assert docker_client.volumes.get(users_volume.name).name == users_volume.name  # a user's data stays
    finally:
        users_volume.remove(force=True)
        remove_stale_e2e_objects(docker_client, label)  # whatever a failed assertion left
