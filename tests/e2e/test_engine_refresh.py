"""`pulumi refresh` reads Docker and AWS objects back as the providers do: out-of-band drift shows for
exactly the resource that drifted, and the next `up` repairs it (pulumi-docker reads a container by ID,
so a stopped must-run container is removed and recreated, and one recreated by hand is a new object)."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import docker
import docker.errors
import pytest

from tests.e2e.conftest import Deployment
from tests.support.e2e_stack import s3_storage_stack
from tests.support.engine_aws import AwsApplier
from tests.support.images import build_scratch_image
from tests.support.local_engine import Step
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.e2e
CONTAINER = "docker:index/container:Container"
REGISTRY = "selfhosted-registry"


@pytest.fixture
def stack(base_stack: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    name, spec = base_stack
    return name, copy.deepcopy(spec)


def _drift(steps: list[Step]) -> set[tuple[str, str, str]]:
    return {(s.op, s.typ, s.name) for s in steps if s.op != "same"}


def _push(deployment: Deployment, docker_client: docker.DockerClient, outputs: dict[str, Any], name: str):
    client = deployment.client(outputs)
    user, password = next(iter(outputs["users"].items()))
    client.login(user, password)
    tag = f"e2e-src/{name}:latest"
    build_scratch_image(docker_client, tag, [os.urandom(4096)])
    return client, client.push(tag, f"team/{name}", "1")


def test_a_clean_refresh_reads_every_object_back_and_finds_no_drift(deployment, stack):
    deployment.apply(*stack)
    assert _drift(deployment.engine.refresh()) == set()
    deployment.apply(*stack)
    assert deployment.engine.changed() == []


def test_a_restart_policy_changed_out_of_band_is_drift_that_up_updates_in_place(deployment, docker_client, stack):
    outputs = deployment.apply(*stack)
    container = deployment.registry_container(outputs)
    docker_client.api.update_container(container.id, restart_policy={"Name": "no"})

    assert _drift(deployment.engine.refresh()) == {("update", CONTAINER, REGISTRY)}
    assert deployment.engine.find(CONTAINER, REGISTRY).outputs["restart"] == "no"
    deployment.apply(*stack)
    assert deployment.engine.changed() == [("update", CONTAINER, REGISTRY)]
    container.reload()
    assert container.id == deployment.registry_container(outputs).id  # updated, not replaced
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"


def test_a_registry_stopped_out_of_band_is_removed_by_refresh_and_up_brings_it_back(deployment, docker_client, stack):
    outputs = deployment.apply(*stack)
    client, digest = _push(deployment, docker_client, outputs, "before-stop")
    stopped = deployment.registry_container(outputs)
    stopped.stop(timeout=5)

    # pulumi-docker's read of a must-run container that does not run deletes it and drops it from state.
    assert _drift(deployment.engine.refresh()) == {("delete", CONTAINER, REGISTRY)}
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(stopped.id)
    deployment.apply(*stack)
    assert deployment.engine.changed() == [("create", CONTAINER, REGISTRY)]
    client.remove_local("team/before-stop", "1")
    assert client.pull("team/before-stop", "1") == digest


def test_a_container_recreated_by_hand_under_the_same_name_is_a_stranger_up_cannot_replace(
    deployment, docker_client, stack, registry_image
):
    outputs = deployment.apply(*stack)
    client, digest = _push(deployment, docker_client, outputs, "before-recreate")
    original = deployment.registry_container(outputs)
    image, volumes = original.attrs["Config"]["Image"], original.attrs["HostConfig"]["Binds"]
    name = original.name
    original.remove(force=True, v=True)  # anonymous volumes go too (a named one never does)
    by_hand = docker_client.containers.run(image, name=name, environment=["EDITED=by-hand"], detach=True)
    try:
        # The provider reads by ID: the state's container is gone, the hand-made one is not Pulumi's.
        assert _drift(deployment.engine.refresh()) == {("delete", CONTAINER, REGISTRY)}
        with pytest.raises(docker.errors.APIError, match="is already in use"):  # Docker's name conflict
            deployment.apply(*stack)
    finally:
        by_hand.remove(force=True, v=True)
    assert volumes  # the data volume was the original's, untouched by the hand-made one
    deployment.apply(*stack)
    assert deployment.engine.changed() == [("create", CONTAINER, REGISTRY)]
    client.remove_local("team/before-recreate", "1")
    assert client.pull("team/before-recreate", "1") == digest


# -- AWS (moto) ---------------------------------------------------------------------------------------------
def _admin(moto: MotoServer, service: str) -> Any:
    return moto.client(service)


@pytest.fixture
def s3_stack(deployment: Deployment, moto: MotoServer, stack) -> tuple[str, dict[str, Any], str]:
    deployment.engine.add_backend(AwsApplier(moto.endpoint, moto.admin_key, moto.admin_secret).backend())
    return s3_storage_stack(stack, moto.endpoint)


def test_s3_settings_and_the_iam_policy_changed_out_of_band_show_as_drift_and_up_restores_them(
    deployment, moto, s3_stack
):
    name, spec, bucket = s3_stack
    deployment.apply(name, spec)
    assert _drift(deployment.engine.refresh()) == set()
    s3, iam = _admin(moto, "s3"), _admin(moto, "iam")
    user = f"{bucket}-registry"
    policy_name = "registry-s3-access"
    declared_policy = iam.get_user_policy(UserName=user, PolicyName=policy_name)["PolicyDocument"]

    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_public_access_block(Bucket=bucket)
    edited = copy.deepcopy(declared_policy)
    edited["Statement"][0]["Action"] = ["s3:*"]
    iam.put_user_policy(UserName=user, PolicyName=policy_name, PolicyDocument=json.dumps(edited))

    drift = {(op, typ) for op, typ, _name in _drift(deployment.engine.refresh())}
    assert drift == {
        ("update", "aws:s3/bucketVersioning:BucketVersioning"),
        ("delete", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"),  # the provider finds it gone
        ("update", "aws:iam/userPolicy:UserPolicy"),
    }
    deployment.apply(name, spec)
    assert {(op, typ) for op, typ, _name in deployment.engine.changed()} == {
        ("update", "aws:s3/bucketVersioning:BucketVersioning"),
        ("create", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"),
        ("update", "aws:iam/userPolicy:UserPolicy"),
    }
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    assert iam.get_user_policy(UserName=user, PolicyName=policy_name)["PolicyDocument"] == declared_policy
    assert _drift(deployment.engine.refresh()) == set()
