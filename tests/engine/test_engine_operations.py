"""The scenarios of tests/e2e/test_engine_operations.py on the real Pulumi engine: a password change touches only
the salt and the container and keeps the images; refresh shows a Docker Hub drift (on the Hub emulator) that the
next up repairs; a preview of each example stack that can run here plans creates and changes nothing. (protect on a
prod* stack: tests/engine/test_config_secrets.py, on the prod stack with its secrets set as its file says.)"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.engine.conftest import Project, docker_names, with_backend
from tests.support.e2e_stack import provided_certificate
from tests.support.hub_emulator import HubEmulator
from tests.support.images import build_scratch_image
from tests.support.registry_client import RegistryUser

HUB_USER, HUB_PASSWORD = "acmecorp", "hub-password-engine-ops"
CONTAINER = "docker:index/container:Container"
RANDOM_BYTES = "random:index/randomBytes:RandomBytes"


def events(stdout: str) -> list[dict[str, Any]]:
    """The JSON lines of `registryctl ... --json`."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def changed(stdout: str) -> set[tuple[str, str, str]]:
    """(op, type, name) of every step that changed something, from the engine's events."""
    return {
        (e["op"], e["resourceType"], e["urn"].rsplit("::", 1)[-1])
        for e in events(stdout)
        if e.get("type") == "resOutputs" and e["op"] not in ("same", "read")
    }


def committed_stack_file(project: Project, stack: str) -> str:
    """The stack file as the clone's commit has it (what a user starts from)."""
    return project.run("git", "show", f"HEAD:stacks/Pulumi.{stack}.yaml").stdout


def restore_stack_file(project: Project, stack: str) -> None:
    """The clone's stack file back as committed (the CLI wrote an encryptionsalt and config into it), or removed."""
    path = f"stacks/Pulumi.{stack}.yaml"
    tracked = project.run("git", "ls-files", "--error-unmatch", path, check=False).returncode == 0
    if tracked:
        project.run("git", "checkout", "--", path)
    else:
        (project.dir / path).unlink(missing_ok=True)


def remove_stack(project: Project, env: dict[str, str], stack: str) -> None:
    project.pulumi("state", "unprotect", "-s", stack, "--all", "--yes", env=env, check=False)
    project.pulumi("destroy", "-s", stack, "--yes", "--skip-preview", "--non-interactive", env=env, check=False)
    project.pulumi("stack", "rm", "-s", stack, "--yes", "--force", env=env, check=False)
    restore_stack_file(project, stack)


@pytest.fixture
def ops_stack(project: Project, docker_cleanup: None) -> Iterator[tuple[Project, dict[str, str]]]:
    """Stack `ops`: the local stack's file under another name (its Docker objects named engine-ops*), on a backend
    of its own."""
    env = with_backend(project, "ops")
    (project.dir / "stacks" / "Pulumi.ops.yaml").write_text(committed_stack_file(project, "local"))
    project.pulumi("stack", "init", "ops", env=env)
    project.pulumi("config", "set", "-s", "ops", "--path", "registries:selfHosted.name", "engine-ops", env=env)
    try:
        yield project, env
    finally:
        remove_stack(project, env, "ops")


def test_changing_one_password_touches_only_its_salt_and_the_container(ops_stack, docker_client):
    project, env = ops_stack
    set_password = ("config", "set", "-s", "ops", "--secret", "--path", "registries:selfHosted.users[0].password")
    project.pulumi(*set_password, env=env, stdin="first-password-for-admin-0001")
    project.registryctl("up", "-s", "ops", env=env)
    outputs = project.outputs("ops", env=env)
    user = RegistryUser(outputs["endpoint"], outputs["caCertPem"])
    try:
        user.login("admin", "first-password-for-admin-0001")
        build_scratch_image(docker_client, "engine-tier/kept:1", [os.urandom(4096)])
        digest = user.push("engine-tier/kept:1", "team/kept", "1")

        project.pulumi(*set_password, env=env, stdin="second-password-for-admin-0002")
        changes = changed(project.registryctl("up", "-s", "ops", "--json", env=env).stdout)
        touched = {typ for _op, typ, _name in changes}
        assert CONTAINER in touched, changes
        assert touched <= {CONTAINER, RANDOM_BYTES}, changes
        # The volume is not a step of this up (above), and the image pushed before is still served from it. (Docker's
        # CreatedAt of a local volume is no identity: it moves when a new container mounts the same volume.)
        assert user.api("GET", "/v2/", auth=("admin", "first-password-for-admin-0001")).status_code == 401
        user.login("admin", "second-password-for-admin-0002")
        user.remove_local("team/kept", "1")
        assert user.pull("team/kept", "1") == digest
    finally:
        user.close()


@pytest.fixture
def hub() -> Iterator[HubEmulator]:
    with HubEmulator(users={HUB_USER: HUB_PASSWORD}) as emulator:
        yield emulator


def test_refresh_shows_hub_drift_and_the_next_up_repairs_it(project: Project, hub: HubEmulator):
    env = {**with_backend(project, "hub-ops"), "DOCKER_USERNAME": HUB_USER, "DOCKER_PASSWORD": HUB_PASSWORD}
    project.pulumi("stack", "init", "hub", env=env)
    try:
        project.pulumi("config", "set", "-s", "hub", "--path", "registries:dockerHub.baseUrl", hub.url, env=env)
        project.registryctl("up", "-s", "hub", env=env)
        declared = hub.state.repositories["acmecorp/api"]["description"]
        hub.state.repositories["acmecorp/api"]["description"] = "edited in the Hub web UI"

        refreshed = events(project.registryctl("refresh", "-s", "hub", "--json", env=env).stdout)
        ops = {e["urn"].rsplit("::", 1)[-1]: e["op"] for e in refreshed if e.get("type") == "resOutputs"}
        assert ops["dockerhub-repo-acmecorp-api"] == "update", ops
        assert ops["dockerhub-repo-acmecorp-worker"] == "same", ops

        repaired = changed(project.registryctl("up", "-s", "hub", "--json", env=env).stdout)
        assert ("update", "pulumi-python:dynamic/dockerhub:Repository", "dockerhub-repo-acmecorp-api") in repaired
        assert hub.state.repositories["acmecorp/api"]["description"] == declared
    finally:
        remove_stack(project, env, "hub")


PREVIEWABLE = ("local", "dev", "prod", "hub")
"""The example stacks whose providers the toolchain serves (docker, random, tls, the Python dynamic providers);
aws, gcp, azure and k8s need pulumi-resource-aws/gcp/azure-native/kubernetes."""


@pytest.mark.parametrize("stack", PREVIEWABLE)
def test_preview_of_an_example_stack_plans_creates_and_changes_nothing(
    stack: str, project: Project, hub: HubEmulator, docker_client
):
    env = {**with_backend(project, f"preview-{stack}"), "DOCKER_USERNAME": HUB_USER, "DOCKER_PASSWORD": HUB_PASSWORD}
    before = docker_names(docker_client)
    hub_before = json.dumps(hub.state.repositories, sort_keys=True)
    project.pulumi("stack", "init", stack, env=env)
    try:
        document = committed_stack_file(project, stack)
        if "registries:dockerHub" in document:
            project.pulumi("config", "set", "-s", stack, "--path", "registries:dockerHub.baseUrl", hub.url, env=env)
        if "mode: provided" in document:  # what the stack file tells users to set before the first up
            certificate, key, _ca = provided_certificate("registry.example.com")
            for path, value in (("certificate", certificate), ("privateKey", key)):
                key_path = f"registries:selfHosted.tls.{path}"
                project.pulumi("config", "set", "-s", stack, "--secret", "--path", key_path, env=env, stdin=value)
        out = project.registryctl("preview", "-s", stack, "--json", env=env).stdout
        steps = [e for e in events(out) if e.get("type") == "resourcePre"]
        custom = [e for e in steps if not e["resourceType"].startswith(("registries:", "pulumi:"))]
        assert custom, out[-2000:]
        assert {e["op"] for e in custom} == {"create"}, {(e["op"], e["urn"]) for e in custom if e["op"] != "create"}
        assert docker_names(docker_client) == before
        assert json.dumps(hub.state.repositories, sort_keys=True) == hub_before
        exported = json.loads(project.export(stack, env=env))
        assert not exported["deployment"].get("resources"), "a preview wrote resources into the state"
    finally:
        remove_stack(project, env, stack)
