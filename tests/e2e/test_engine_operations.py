"""Engine operations the real-engine tier (tests/engine) does not run, on the local engine and real backends: a
preview after a Hub config change, and provider behaviour (anonymous volumes, an IAM rename, a fixed-name
replacement). A second up, a password change, destroy on local and prod, Hub drift by refresh and the preview of
every example stack run on the real engine (tests/engine: test_readme_local.py, test_engine_operations.py,
test_config_secrets.py, test_cloud_stacks.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pulumi
import pulumi_aws as aws
import pulumi_docker
import pytest
import yaml

from tests.e2e.conftest import ROOT
from tests.support.engine_aws import AwsApplier
from tests.support.engine_dynamic import dynamic_backend
from tests.support.hub_emulator import HubEmulator
from tests.support.local_engine import (
    LocalEngine,
    format_plan,
)
from tests.support.pulumi_runtime import run_program

pytestmark = pytest.mark.e2e
NETWORK = "docker:index/network:Network"
HUB_USER, HUB_PASSWORD = "acmecorp", "hub-password-engine-e2e"


def _gone(getter: Any, ident: str) -> bool:
    try:
        getter(ident)
    except docker.errors.NotFound:
        return True
    return False


# Hub: a preview after a config change ---------------------------------------------------------------
@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubEmulator]:
    with HubEmulator(users={HUB_USER: HUB_PASSWORD}) as emulator:
        monkeypatch.setenv("DOCKER_USERNAME", HUB_USER)
        monkeypatch.setenv("DOCKER_PASSWORD", HUB_PASSWORD)
        monkeypatch.delenv("DOCKER_HUB_TOKEN", raising=False)
        yield emulator


def _hub_stack_config(url: str) -> dict[str, str]:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.hub.yaml").read_text())
    hub_spec = document["config"]["registries:dockerHub"]
    hub_spec["baseUrl"] = url  # the emulator on loopback instead of hub.docker.com
    return {"registries:dockerHub": json.dumps(hub_spec)}


def _hub_up(engine: LocalEngine, config: dict[str, str], *, preview: bool = False) -> None:
    engine.begin_run()
    run_program(engine, stack="hub", config=config, preview=preview)
    engine.end_run()


def test_preview_of_a_team_description_change_plans_an_update_of_its_permissions_not_a_replace(hub):
    engine = LocalEngine()
    engine.add_backend(dynamic_backend())
    config = _hub_stack_config(hub.url)
    _hub_up(engine, config)
    spec = json.loads(config["registries:dockerHub"])
    spec["teams"][0]["description"] = "Everyone who ships, and reviews"
    _hub_up(engine, {"registries:dockerHub": json.dumps(spec)}, preview=True)
    plan = {s.name: s.op for s in engine.plan}
    assert plan["dockerhub-team-acmecorp-developers"] == "update"
    permissions = {n: op for n, op in plan.items() if "-permission-" in n}
    assert permissions
    assert "replace" not in permissions.values(), format_plan(engine.plan)


# Anonymous volumes ----------------------------------------------------------------------------------
def test_deleting_a_container_removes_its_anonymous_volumes(deployment, docker_client, registry_image):
    def dangling() -> set[str]:
        return {v.name or "" for v in docker_client.volumes.list(filters={"dangling": True})}

    before = dangling()

    def program() -> dict[str, Any]:
        # The registry image declares VOLUME /var/lib/registry: without a mount there, Docker makes one.
        box = pulumi_docker.Container("anon", name="engine-e2e-anon", image=registry_image, must_run=True)
        return {"name": box.name}

    deployment.engine.begin_run()
    run_program(deployment.engine, stack="local", config={}, program=program)
    deployment.engine.end_run()
    mounts = docker_client.containers.get("engine-e2e-anon").attrs["Mounts"]
    anonymous = {m["Name"] for m in mounts if m["Type"] == "volume"}
    assert anonymous, "the image declares a VOLUME; the container should have an anonymous one"

    deployment.engine.destroy()
    assert not anonymous & dangling(), "the container's anonymous volume outlived it"
    assert dangling() <= before


# AWS updates ----------------------------------------------------------------------------------------
def test_renaming_the_iam_user_updates_it_in_place_and_moves_its_policy(moto):
    engine = LocalEngine()
    engine.add_backend(AwsApplier(moto.endpoint, moto.admin_key, moto.admin_secret).backend())
    iam = moto.client("iam")
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}'

    def program(user_name: str) -> Any:
        def body() -> dict[str, Any]:
            user = aws.iam.User("user", name=user_name)
            aws.iam.UserPolicy("policy", user=user.name, name="registry", policy=policy)
            return {"user": user.name}

        return body

    for user_name in ("engine-e2e-before", "engine-e2e-after"):
        engine.begin_run()
        run_program(engine, stack="local", config={}, program=program(user_name))
        engine.end_run()
    assert sorted(engine.changed()) == [
        ("replace", "aws:iam/userPolicy:UserPolicy", "policy"),  # its user is a replace-on-change input
        ("update", "aws:iam/user:User", "user"),
    ]
    assert iam.get_user_policy(UserName="engine-e2e-after", PolicyName="registry")["PolicyName"] == "registry"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="engine-e2e-before")
    engine.destroy()
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="engine-e2e-after")


# Replacement order on real Docker ---------------------------------------------------------------------
def test_a_fixed_name_network_replaced_without_delete_before_replace_fails_on_the_name(deployment, docker_client):
    def program(internal: bool, delete_first: bool) -> Any:
        def body() -> dict[str, Any]:
            options = pulumi.ResourceOptions(delete_before_replace=delete_first)
            net = pulumi_docker.Network("net", name="engine-e2e-fixed-net", internal=internal, opts=options)
            return {"net": net.name}

        return body

    def up(internal: bool, delete_first: bool) -> None:
        deployment.engine.begin_run()
        run_program(deployment.engine, stack="local", config={}, program=program(internal, delete_first))
        deployment.engine.end_run()

    up(internal=False, delete_first=False)
    first = deployment.engine.find(NETWORK, "net").ident
    with pytest.raises(Exception, match="already exists"):  # create-before-delete: Docker refuses the name
        up(internal=True, delete_first=False)
    assert docker_client.networks.get(first).attrs["Internal"] is False

    up(internal=True, delete_first=True)
    assert deployment.engine.changed() == [("replace", NETWORK, "net")]
    assert _gone(docker_client.networks.get, first)
    assert docker_client.networks.get("engine-e2e-fixed-net").attrs["Internal"] is True
