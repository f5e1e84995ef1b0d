"""Secrets set with `pulumi config set --secret --path`, exactly as the stack files tell users, on the real engine:
the program reads them (a login with the given password, the webhook the Hub receives, the header in the registry's
config), and `pulumi stack export` holds none of them, nor any secret output, in plain text.

The real engine keeps secretness per list element in state (the local engine and the SDK mocks raise it to the
whole list): this scan is what proves a secret inside one element of a list input (an upload's content, a webhook's
URL) is encrypted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from tests.engine.conftest import Project, plain_secrets_in, secret_values, with_backend
from tests.engine.test_engine_operations import restore_stack_file
from tests.support.e2e_stack import provided_certificate
from tests.support.hub_emulator import HubEmulator
from tests.support.images import build_scratch_image
from tests.support.registry_client import RegistryUser

HUB_USER, HUB_PASSWORD = "acmecorp", "hub-password-engine-tier"


def _config(project: Project, env: dict[str, str], stack: str, path: str, value: str, secret: bool = False) -> None:
    """`pulumi config set -s STACK [--secret] --path PATH` with the value on stdin (as `< server.key` does)."""
    flags = ["--secret"] if secret else []
    project.pulumi("config", "set", "-s", stack, *flags, "--path", path, env=env, stdin=value)


def _plain(project: Project, env: dict[str, str], stack: str, path: str, value: str) -> None:
    """A non-secret value typed on the command line (numbers and booleans are kept typed by --path)."""
    project.pulumi("config", "set", "-s", stack, "--path", path, value, env=env)


def _cleanup(project: Project, env: dict[str, str], stack: str) -> None:
    project.pulumi("state", "unprotect", "-s", stack, "--all", "--yes", env=env, check=False)
    project.pulumi("destroy", "-s", stack, "--yes", "--skip-preview", "--non-interactive", env=env, check=False)
    project.pulumi("stack", "rm", "-s", stack, "--yes", "--force", env=env, check=False)


@pytest.fixture
def prod(project: Project, docker_cleanup: None) -> Iterator[tuple[Project, dict[str, str]]]:
    env = with_backend(project, "prod")
    project.pulumi("stack", "init", "prod", env=env)
    try:
        yield project, env
    finally:
        _cleanup(project, env, "prod")
        restore_stack_file(project, "prod")


def test_prod_secrets_set_by_path_are_read_by_the_program_and_encrypted_in_state(prod, docker_client):
    project, env = prod
    certificate, key, ca = provided_certificate("localhost")
    password = "engine-tier-admin-password-0123456789"
    authorization = "Bearer engine-tier-audit-token-9f3c"
    # Only loopback is reachable here: the registry as localhost:5000 instead of registry.example.com:443.
    _plain(project, env, "prod", "registries:selfHosted.hostname", "localhost")
    _plain(project, env, "prod", "registries:selfHosted.bindAddress", "127.0.0.1")
    _plain(project, env, "prod", "registries:selfHosted.port", "5000")
    # The commands Pulumi.prod.yaml's header tells users to run.
    _config(project, env, "prod", "registries:selfHosted.tls.certificate", certificate, secret=True)
    _config(project, env, "prod", "registries:selfHosted.tls.privateKey", key, secret=True)
    _config(project, env, "prod", "registries:selfHosted.users[0].password", password, secret=True)
    _config(project, env, "prod", "registries:selfHosted.notifications[0].authorization", authorization, secret=True)
    stack_file = (project.dir / "stacks" / "Pulumi.prod.yaml").read_text()
    assert plain_secrets_in(stack_file, [key, password, authorization]) == []

    project.registryctl("up", "-s", "prod", "--yes", env=env)
    outputs = project.outputs("prod", env=env)

    # The program read them: the given password logs in over the given certificate; the header is in config.yml.
    assert outputs["users"]["admin"] == password
    user = RegistryUser(outputs["endpoint"], ca)
    try:
        user.login("admin", password)
        build_scratch_image(docker_client, "engine-tier/precious:1", [os.urandom(4096)])
        user.push("engine-tier/precious:1", "team/precious", "1")
    finally:
        user.close()
    container = docker_client.containers.get(outputs["containerName"])
    rendered = container.exec_run(["cat", "/etc/docker/registry/config.yml"]).output.decode()
    assert authorization in rendered

    exported = project.export("prod", env=env)
    given = [key, password, authorization, *secret_values(outputs["users"])]
    assert plain_secrets_in(exported, given) == [], "secrets stored in plain text in the state"
    assert project.secrets_in_plain("prod", env=env) == [], "a secret of the state is also stored in plain"

    # protect on a prod* stack: destroy stops at the volume before deleting anything (its preview fails first).
    refused = project.registryctl("destroy", "-s", "prod", "--yes", env=env, check=False)
    assert refused.returncode == 1, refused.stderr
    assert "protect" in refused.stderr
    registry = docker_client.containers.get(outputs["containerName"])
    assert registry.status == "running"
    registry_image = registry.attrs["Image"]

    # Plain `pulumi destroy --skip-preview` (as the Automation API's destroy runs it) fails at the protected volume:
    # the volume stays in the state and in Docker with the pushed repository in it.
    destroy = ("destroy", "-s", "prod", "--yes", "--skip-preview", "--non-interactive")
    plain = project.pulumi(*destroy, env=env, check=False)
    assert plain.returncode != 0, plain.stdout[-2000:]
    assert "protect" in plain.stdout + plain.stderr, plain.stdout[-2000:]
    # The real engine deletes the volume's siblings (network, salts, image) in parallel before it stops; only the
    # protected volume is left of the registry's resources.
    remaining = json.loads(project.export("prod", env=env))["deployment"].get("resources") or []
    kept = {r["urn"].rsplit("::", 1)[-1] for r in remaining if r["type"].startswith(("docker:index", "random:index"))}
    assert kept == {"selfhosted-data"}, kept
    listed = docker_client.containers.run(
        registry_image,  # its busybox
        entrypoint=["ls", "/var/lib/registry/docker/registry/v2/repositories/team"],
        volumes={outputs["volumeName"]: {"bind": "/var/lib/registry", "mode": "ro"}},
        name=f"engine-tier-volume-check-{os.getpid()}",
        network_mode="none",
        remove=True,
    )
    assert b"precious" in listed


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubEmulator]:
    with HubEmulator(users={HUB_USER: HUB_PASSWORD}) as emulator:
        yield emulator


def test_hub_webhook_url_set_by_path_reaches_the_hub_and_stays_encrypted(project: Project, hub: HubEmulator):
    env = {**with_backend(project, "hub"), "DOCKER_USERNAME": HUB_USER, "DOCKER_PASSWORD": HUB_PASSWORD}
    url = "https://ci.example.com/hook?token=engine-tier-webhook-token-77"
    project.pulumi("stack", "init", "hub", env=env)
    try:
        _config(project, env, "hub", "registries:dockerHub.baseUrl", hub.url)  # the emulator, not hub.docker.com
        # The command Pulumi.hub.yaml's header tells users to run (and the hook's name beside it).
        _config(project, env, "hub", "registries:dockerHub.repositories[0].webhooks[0].name", "ci")
        _config(project, env, "hub", "registries:dockerHub.repositories[0].webhooks[0].url", url, secret=True)
        project.registryctl("up", "-s", "hub", env=env)

        hooks = [h["hook_url"] for pipeline in hub.state.webhooks.values() for h in pipeline["webhooks"]]
        assert hooks == [url]
        outputs = project.outputs("hub", env=env)
        given = [url, *secret_values(outputs.get("dockerHubTokens")), *secret_values(outputs.get("dockerHubOrgTokens"))]
        assert plain_secrets_in(project.export("hub", env=env), given) == []
        assert project.secrets_in_plain("hub", env=env) == []
    finally:
        _cleanup(project, env, "hub")
        restore_stack_file(project, "hub")
