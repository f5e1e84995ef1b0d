"""The program with a Docker Hub config, applied by the local engine through the real dynamic providers
against the Hub API emulator; the emulator then holds exactly what the stack declared."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.engine_dynamic import dynamic_backend
from tests.support.hub_emulator import HubEmulator
from tests.support.local_engine import LocalEngine
from tests.support.pulumi_runtime import StackOutput, run_program

pytestmark = pytest.mark.e2e
USER, PASSWORD = "acmebot", "hub-password-e2e"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubEmulator]:
    with HubEmulator(users={USER: PASSWORD}) as emulator:
        monkeypatch.setenv("DOCKER_USERNAME", USER)
        monkeypatch.setenv("DOCKER_PASSWORD", PASSWORD)
        yield emulator


def hub_config(url: str) -> dict[str, Any]:
    return {
        "namespace": "acme",
        "baseUrl": url,
        "repositories": [
            {
                "name": "app",
                "description": "The app",
                "immutableTags": {"enabled": True, "rules": ["v.*"]},
                "webhooks": [{"name": "ci", "url": "https://ci.example.com/hook?token=abc"}],
            },
            {"name": "docs", "private": False},
        ],
        "accessTokens": [{"label": "ci-push", "scopes": ["repo:write"]}],
        "orgAccessTokens": [
            {"org": "acme", "label": "deploy", "resources": [{"path": "acme/app", "scopes": ["scope-image-pull"]}]}
        ],
        "teams": [{"org": "acme", "name": "devs", "permissions": [{"repository": "app", "permission": "write"}]}],
    }


def apply(
    engine: LocalEngine, config: dict[str, Any], stack: str = "dev", secret: str | None = None
) -> dict[str, StackOutput]:
    """`pulumi up`; `secret` is the stack's registries:dockerHubSecret, if set."""
    stack_config = {"registries:dockerHub": json.dumps(config)}
    if secret is not None:
        stack_config["registries:dockerHubSecret"] = secret
    engine.begin_run()
    outputs = run_program(
        engine, stack=stack, config=stack_config, secret_keys=["registries:dockerHubSecret"] if secret else []
    )
    engine.end_run()
    return outputs


def engine() -> LocalEngine:
    local = LocalEngine()
    local.add_backend(dynamic_backend())
    return local


def test_hub_holds_exactly_what_the_stack_declares(hub):
    local = engine()
    outputs = apply(local, hub_config(hub.url))
    state = hub.state
    assert sorted(state.repositories) == ["acme/app", "acme/docs"]
    assert state.repositories["acme/app"]["is_private"] is True
    assert state.repositories["acme/docs"]["is_private"] is False
    assert state.repositories["acme/app"]["immutable_tags_settings"] == {"enabled": True, "rules": ["v.*"]}
    (hook,) = state.webhooks.values()
    assert hook["webhooks"][0]["hook_url"] == "https://ci.example.com/hook?token=abc"
    (pat,) = state.access_tokens.values()
    assert pat["token_label"] == "ci-push"
    (oat,) = state.org_tokens.values()
    assert oat["label"] == "deploy"

    assert outputs["dockerHubRepositories"].value == ["acme/app", "acme/docs"]
    team = state.teams["acme/devs"]
    assert state.permissions == {
        f"acme/app/{team['id']}": {"group_id": team["id"], "group_name": "devs", "permission": "write"}
    }
    assert outputs["dockerHubTokens"].secret
    assert outputs["dockerHubTokens"].value == {"ci-push": pat["token"]}
    assert outputs["dockerHubOrgTokens"].value == {"acme/deploy": oat["token"]}


def test_reapply_changes_nothing_and_edits_update_in_place(hub):
    local = engine()
    config = hub_config(hub.url)
    first = apply(local, config)
    apply(local, config)
    assert local.changed() == []

    edited = copy.deepcopy(config)
    edited["repositories"][0]["description"] = "New words"
    edited["accessTokens"][0]["active"] = False
    after = apply(local, edited)
    assert sorted(op[0] for op in local.changed()) == ["update", "update"]
    assert hub.state.repositories["acme/app"]["description"] == "New words"
    assert next(iter(hub.state.access_tokens.values()))["is_active"] is False
    assert after["dockerHubTokens"].value == first["dockerHubTokens"].value  # the secret survives updates


def test_scope_change_replaces_the_token_and_removal_deletes(hub):
    local = engine()
    config = hub_config(hub.url)
    first = apply(local, config)
    changed = copy.deepcopy(config)
    changed["accessTokens"][0]["scopes"] = ["repo:read"]
    changed["repositories"] = changed["repositories"][:1]
    changed["repositories"][0]["webhooks"] = []
    after = apply(local, changed)
    (pat,) = hub.state.access_tokens.values()
    assert pat["scopes"] == ["repo:read"]
    assert after["dockerHubTokens"].value["ci-push"] != first["dockerHubTokens"].value["ci-push"]
    assert sorted(hub.state.repositories) == ["acme/app"]
    assert hub.state.webhooks == {}


def test_out_of_band_delete_is_recreated_on_next_apply(hub):
    local = engine()
    config = hub_config(hub.url)
    apply(local, config)
    del hub.state.repositories["acme/docs"]
    local.refresh()  # `pulumi up --refresh`: the engine learns of out-of-band changes only by reading
    apply(local, config)
    assert ("create", "pulumi-python:dynamic/dockerhub:Repository", "dockerhub-repo-acme-docs") in local.changed()
    assert "acme/docs" in hub.state.repositories


def test_rate_limits_during_apply_are_waited_out(hub):
    hub.answer_429, hub.retry_after = 3, "0"
    apply(engine(), hub_config(hub.url))
    assert sorted(hub.state.repositories) == ["acme/app", "acme/docs"]


def test_switching_from_a_user_login_to_an_org_token_changes_nothing(hub, monkeypatch):
    """H3: the stack moves to an org token (identifier = the org) in its config; no team, permission,
    webhook, repository or org token is replaced, and Hub is then read as the organization."""
    local = engine()
    config = {k: v for k, v in hub_config(hub.url).items() if k != "accessTokens"}  # PATs belong to a user
    first = apply(local, config)
    org_token = first["dockerHubOrgTokens"].value["acme/deploy"]

    monkeypatch.delenv("DOCKER_USERNAME")
    monkeypatch.delenv("DOCKER_PASSWORD")
    as_org = {**config, "username": "acme"}
    apply(local, as_org, secret=org_token)
    assert local.changed() == []
    assert [op for op in local.refresh() if op.op != "same"] == []
    assert {who for who, _ in hub.state.jwts.values()} == {USER, "acme"}


def test_an_expiry_with_an_offset_survives_refresh_and_reapply(hub):
    """H2 end to end: Hub answers the expiry in its microsecond UTC form; nothing is replaced."""
    local = engine()
    config = hub_config(hub.url)
    config["accessTokens"][0]["expiresAt"] = "2030-06-30T02:00:00+02:00"
    config["orgAccessTokens"][0]["expiresAt"] = "2030-06-30T02:00:00+02:00"
    first = apply(local, config)
    (pat,) = hub.state.access_tokens.values()
    assert pat["expires_at"] == "2030-06-30T00:00:00.000000Z"
    assert [op for op in local.refresh() if op.op != "same"] == []
    again = apply(local, config)
    assert local.changed() == []
    assert again["dockerHubTokens"].value == first["dockerHubTokens"].value


def test_a_refresh_logs_in_to_hub_once(hub):
    """M7: one login for the whole stack, not one per resource."""
    from providers.dockerhub.resources import forget_clients

    local = engine()
    apply(local, hub_config(hub.url))
    forget_clients()  # a new provider host process
    hub.state.logins = 0
    steps = local.refresh()
    assert len([s for s in steps if s.typ.startswith("pulumi-python:dynamic/")]) == 7
    assert hub.state.logins == 1


def test_a_stack_without_tokens_exports_empty_maps(hub):
    outputs = apply(engine(), {"namespace": "acme", "baseUrl": hub.url, "repositories": [{"name": "app"}]})
    assert outputs["dockerHubTokens"].value == {}
    assert outputs["dockerHubOrgTokens"].value == {}
