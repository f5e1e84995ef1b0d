"""The `retention` block on Docker Hub repositories: validated with the shared rule set, inherited from
dockerHub.retention, and enforced by `registryctl retention apply`, never deployed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.retention.model import KeepLatest, RetentionIntent
from registries.config import ConfigError, load_stack_spec
from tests.unit.conftest import problem_at

RETENTION = {"protect": ["latest"], "keepLatest": [{"tag": "pr-*", "count": 3}], "taggedDays": 90}
HUB: dict[str, Any] = {
    "namespace": "acme",
    "repositories": [
        {"name": "app", "description": "The app", "immutableTags": {"enabled": False, "rules": ["v.*"]}},
        {"name": "tools", "namespace": "acmeops", "private": False},
        {"name": "docs"},
    ],
}


def _intents(config: dict[str, Any]) -> dict[str, RetentionIntent | None]:
    hub = load_stack_spec({"dockerHub": config}, "dev").docker_hub
    assert hub is not None
    return {
        repo.name: (None if (block := hub.retention_of(repo)) is None else block.intent()) for repo in hub.repositories
    }


def test_repositories_inherit_the_dockerhub_block_and_may_override_it_as_a_whole():
    config = copy.deepcopy(HUB)
    config["retention"] = RETENTION
    config["repositories"][1]["retention"] = {"keepLatest": [{"tag": "*", "count": 10}]}
    config["repositories"][2]["retention"] = {}  # this repository: nothing is deleted
    intents = _intents(config)
    assert intents["app"] == RetentionIntent(
        protect=("latest",), keep_latest=(KeepLatest("pr-*", 3),), untagged_days=None, tagged_days=90
    )
    assert intents["tools"] == RetentionIntent(keep_latest=(KeepLatest("*", 10),))
    docs = intents["docs"]
    assert docs is not None
    assert docs.is_empty


def test_without_any_block_nothing_is_enforced():
    assert set(_intents(HUB).values()) == {None}


@pytest.mark.parametrize(
    ("where", "block", "key"),
    [
        ("repository", {"keepLatest": [{"tag": "pr-*", "count": 0}]}, "repositories[0].retention.keepLatest[0].count"),
        ("repository", {"protect": ["a*b*c*d*e*f"]}, "repositories[0].retention.protect[0]"),
        ("dockerHub", {"taggedDays": "30"}, "retention.taggedDays"),
        ("dockerHub", {"keepDays": 3}, "retention.keepDays"),
    ],
)
def test_a_bad_block_names_its_key(where: str, block: dict[str, Any], key: str):
    config = copy.deepcopy(HUB)
    if where == "repository":
        config["repositories"][0]["retention"] = block
    else:
        config["retention"] = block
    with pytest.raises(ConfigError) as raised:
        load_stack_spec({"dockerHub": config}, "dev")
    problem_at(raised.value, f"registries:dockerHub.{key}")


def test_retention_changes_no_declared_resource_input(run):
    """The block is enforced by registryctl; a stack that adds it deploys exactly what it deployed before."""
    with_retention = copy.deepcopy(HUB)
    with_retention["retention"] = RETENTION
    with_retention["repositories"][0]["retention"] = {"keepLatest": [{"tag": "*", "count": 5}]}

    def declared(config: dict[str, Any]) -> list[tuple[str, str, Any]]:
        mocks, _ = run(dockerHub=config)
        return sorted((r.typ, r.name, repr(r.plain)) for r in mocks.resources)

    before, after = declared(HUB), declared(with_retention)
    assert any(typ.endswith("dockerhub:Repository") for typ, _, _ in before)
    assert after == before
