"""Docker Hub refuses to delete immutable tags: the emulator refuses them as Hub does, and the stack config refuses
a retention block on a repository with immutable tags (retention apply would fail partway, on every re-run)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from providers.dockerhub.client import Credentials, HubClient, HubError
from registries.config import ConfigError, load_stack_spec
from tests.support.hub_emulator import HubEmulator
from tests.support.hub_retention_scenario import NOW, digest
from tests.unit.conftest import problem_at

USER, PASSWORD = "acmebot", "hub-password-unit"
RETENTION = {"keepLatest": [{"tag": "*", "count": 1}]}


@pytest.fixture
def client() -> Iterator[tuple[HubEmulator, HubClient]]:
    with HubEmulator(users={USER: PASSWORD}) as hub:
        hub_client = HubClient(hub.url, Credentials(USER, PASSWORD), sleep=lambda _s: None)
        hub_client.request("POST", "/v2/namespaces/acme/repositories", "repository", body={"name": "app"})
        yield hub, hub_client
        hub_client.close()


def _immutable(hub_client: HubClient, enabled: bool, rules: list[str]) -> None:
    hub_client.request(
        "PATCH",
        "/v2/namespaces/acme/repositories/app/immutabletags",
        "repository acme/app",
        body={"immutable_tags": enabled, "immutable_tags_rules": rules},
    )


def test_the_emulator_refuses_to_delete_a_tag_matching_an_immutable_rule(client: tuple[HubEmulator, HubClient]):
    hub, hub_client = client
    for tag in ("v1.0", "pr-7"):
        hub.push_tag("acme/app", tag, digest(tag), NOW)
    _immutable(hub_client, True, [r"v.*"])
    with pytest.raises(HubError) as caught:
        hub_client.delete_tag("acme", "app", "v1.0")
    assert caught.value.status == 400
    assert "immutable" in str(caught.value)
    assert hub_client.delete_tag("acme", "app", "pr-7")  # a tag no rule matches is deleted
    assert set(hub.tag_digests("acme/app")) == {"v1.0"}


def test_the_emulator_deletes_once_immutable_tags_are_disabled(client: tuple[HubEmulator, HubClient]):
    hub, hub_client = client
    hub.push_tag("acme/app", "v1.0", digest("v1.0"), NOW)
    _immutable(hub_client, True, [])  # enabled without rules: every tag
    with pytest.raises(HubError):
        hub_client.delete_tag("acme", "app", "v1.0")
    _immutable(hub_client, False, [])
    assert hub_client.delete_tag("acme", "app", "v1.0")


def _hub(retention: dict[str, Any] | None, repository_retention: dict[str, Any] | None) -> dict[str, Any]:
    repository: dict[str, Any] = {"name": "app", "immutableTags": {"enabled": True, "rules": ["v.*"]}}
    if repository_retention is not None:
        repository["retention"] = repository_retention
    config: dict[str, Any] = {"namespace": "acme", "repositories": [repository, {"name": "tools"}]}
    if retention is not None:
        config["retention"] = retention
    return config


@pytest.mark.parametrize(
    ("dockerhub_retention", "repository_retention", "given"),
    [(None, RETENTION, "a retention block"), (RETENTION, None, "nothing: it inherits dockerHub.retention")],
)
def test_retention_on_a_repository_with_immutable_tags_is_refused_naming_it(
    dockerhub_retention: dict[str, Any] | None, repository_retention: dict[str, Any] | None, given: str
):
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"dockerHub": _hub(dockerhub_retention, repository_retention)}, "dev")
    problem = problem_at(caught.value, "registries:dockerHub.repositories[0].retention")
    assert problem.value == given
    assert "immutable" in problem.allowed
    assert "retention: {}" in problem.allowed
    assert caught.value.paths == ["registries:dockerHub.repositories[0].retention"]  # tools is fine


def test_an_immutable_repository_opted_out_with_an_empty_block_is_accepted():
    spec = load_stack_spec({"dockerHub": _hub(RETENTION, {})}, "dev").docker_hub
    assert spec is not None
    assert spec.retention_of(spec.repositories[1]) is not None
