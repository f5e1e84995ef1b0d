"""The dynamic providers' CRUD, refresh and drift against the Hub emulator over real HTTP."""

from __future__ import annotations

import base64

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from providers.dockerhub.client import HubError
from providers.dockerhub.resources import (
    AccessTokenProvider,
    OrgAccessTokenProvider,
    RepositoryProvider,
    WebhookProvider,
)
from tests.providers.conftest import PASSWORD


def repo_props(hub, **extra):
    return {
        "baseUrl": hub.url,
        "namespace": "acme",
        "name": "app",
        "description": "The app",
        "fullDescription": "# App",
        "private": True,
        "immutableTags": {"enabled": False, "rules": []},
        **extra,
    }


def test_repository_create_read_update_delete(hub):
    provider = RepositoryProvider()
    props = repo_props(hub, immutableTags={"enabled": True, "rules": ["v.*"]})
    created = provider.create(props)
    assert created.id == "acme/app"
    stored = hub.repository("acme/app")
    assert stored["is_private"] is True
    assert stored["description"] == "The app"
    assert stored["immutable_tags_settings"] == {"enabled": True, "rules": ["v.*"]}

    read = provider.read(created.id, created.outs)
    assert read.id == "acme/app"
    assert read.outs["fullDescription"] == "# App"

    news = {**props, "description": "Renamed", "private": False, "immutableTags": {"enabled": False, "rules": []}}
    diff = provider.diff(created.id, created.outs, news)
    assert diff.changes is True
    assert diff.replaces == []
    updated = provider.update(created.id, created.outs, news)
    assert updated.outs["description"] == "Renamed"
    assert hub.repository("acme/app")["is_private"] is False
    assert hub.repository("acme/app")["immutable_tags_settings"]["enabled"] is False

    provider.delete(created.id, updated.outs)
    assert hub.repository("acme/app") is None
    provider.delete(created.id, updated.outs)  # already gone: no error


def test_repository_namespace_or_name_change_replaces(hub):
    provider = RepositoryProvider()
    olds = repo_props(hub)
    assert provider.diff("acme/app", olds, {**olds, "name": "app2"}).replaces == ["name"]
    assert provider.diff("acme/app", olds, {**olds, "namespace": "other"}).replaces == ["namespace"]
    assert provider.diff("acme/app", olds, dict(olds)).changes is False


def test_repository_refresh_shows_out_of_band_drift_and_deletion(hub):
    provider = RepositoryProvider()
    created = provider.create(repo_props(hub))
    hub.repository("acme/app")["description"] = "edited in the Hub UI"
    hub.repository("acme/app")["is_private"] = False
    read = provider.read(created.id, created.outs)
    assert read.outs["description"] == "edited in the Hub UI"
    assert read.inputs["private"] is False  # so the next up shows the drift as a diff
    assert provider.diff(created.id, read.outs, repo_props(hub)).changes is True

    del hub.state.repositories["acme/app"]
    gone = provider.read(created.id, created.outs)
    assert gone.id == ""
    assert gone.outs == {}


def test_repository_check_names_the_field():
    provider = RepositoryProvider()
    result = provider.check({}, {"name": "Bad_Name!", "description": "x" * 101})
    assert {f.property for f in result.failures} == {"name", "description"}


def test_access_token_secret_is_returned_once_and_kept_on_refresh(hub):
    provider = AccessTokenProvider()
    props = {"baseUrl": hub.url, "label": "ci", "scopes": ["repo:write"], "active": True}
    created = provider.create(props)
    assert created.outs["token"].startswith("dckr_pat_")
    assert hub.state.access_tokens[created.id]["token"] == created.outs["token"]

    read = provider.read(created.id, created.outs)
    assert read.outs["token"] == created.outs["token"]  # the API returns "" now; state keeps it
    assert provider.diff(created.id, created.outs, {**props, "scopes": ["repo:read"]}).replaces == ["scopes"]
    deactivate = {**props, "active": False, "label": "ci-old"}
    assert provider.diff(created.id, created.outs, deactivate).replaces == []
    updated = provider.update(created.id, created.outs, deactivate)
    assert updated.outs["token"] == created.outs["token"]
    assert hub.state.access_tokens[created.id]["is_active"] is False
    assert hub.state.access_tokens[created.id]["token_label"] == "ci-old"

    provider.delete(created.id, updated.outs)
    assert created.id not in hub.state.access_tokens
    assert provider.read(created.id, created.outs).outs == {}


def test_a_created_token_can_itself_authenticate(hub, monkeypatch):
    created = AccessTokenProvider().create(
        {"baseUrl": hub.url, "label": "bot", "scopes": ["repo:admin"], "active": True}
    )
    monkeypatch.delenv("DOCKER_PASSWORD")
    monkeypatch.setenv("DOCKER_HUB_TOKEN", created.outs["token"])
    assert RepositoryProvider().create(repo_props(hub, name="viapat")).id == "acme/viapat"


def test_org_access_token_lifecycle(hub):
    provider = OrgAccessTokenProvider()
    props = {
        "baseUrl": hub.url,
        "org": "acme",
        "label": "deploy",
        "description": "pull only",
        "resources": [{"type": "TYPE_REPO", "path": "acme/app", "scopes": ["scope-image-pull"]}],
        "active": True,
    }
    created = provider.create(props)
    assert created.id.startswith("acme/")
    assert created.outs["token"].startswith("dckr_oat_")
    read = provider.read(created.id, created.outs)
    assert read.outs["token"] == created.outs["token"]
    news = {**props, "resources": [{"type": "TYPE_REPO", "path": "acme/*", "scopes": ["scope-image-pull"]}]}
    assert provider.diff(created.id, created.outs, news).replaces == []
    provider.update(created.id, created.outs, news)
    assert hub.state.org_tokens[created.outs["tokenId"]]["resources"][0]["path"] == "acme/*"
    assert provider.diff(created.id, created.outs, {**props, "expiresAt": "2030-01-01T00:00:00Z"}).replaces == [
        "expiresAt"
    ]
    provider.delete(created.id, created.outs)
    assert hub.state.org_tokens == {}
    assert provider.check({}, {**props, "resources": [{"path": "acme/app", "scopes": ["repo-pull"]}]}).failures


def test_webhook_is_created_read_and_replaced_on_any_change(hub):
    RepositoryProvider().create(repo_props(hub))
    provider = WebhookProvider()
    props = {
        "baseUrl": hub.url,
        "namespace": "acme",
        "repository": "app",
        "name": "ci",
        "hookUrl": "https://ci.example.com/hook?secret=abc",
    }
    created = provider.create(props)
    stored = hub.state.webhooks[created.id]
    assert stored["webhooks"][0]["hook_url"] == props["hookUrl"]
    assert provider.read(created.id, created.outs).outs["hookUrl"] == props["hookUrl"]
    diff = provider.diff(created.id, created.outs, {**props, "hookUrl": "https://ci.example.com/hook?secret=new"})
    assert diff.replaces == ["hookUrl"]
    provider.delete(created.id, created.outs)
    assert created.id not in hub.state.webhooks


def test_provider_errors_name_the_resource_and_never_the_secret(hub, monkeypatch):
    monkeypatch.setenv("DOCKER_PASSWORD", "definitely-wrong-password")
    with pytest.raises(HubError) as caught:
        RepositoryProvider().create(repo_props(hub))
    assert "definitely-wrong-password" not in str(caught.value)
    assert PASSWORD not in str(caught.value)
    monkeypatch.setenv("DOCKER_PASSWORD", PASSWORD)
    RepositoryProvider().create(repo_props(hub))
    with pytest.raises(HubError) as duplicate:
        RepositoryProvider().create(repo_props(hub))
    assert "repository acme/app" in str(duplicate.value)
    assert "409" in str(duplicate.value)


def test_rate_limited_create_still_succeeds(hub):
    hub.answer_429 = 2
    assert RepositoryProvider().create(repo_props(hub)).id == "acme/app"


def test_providers_pickle_by_reference(hub):
    for provider in (RepositoryProvider(), AccessTokenProvider(), OrgAccessTokenProvider(), WebhookProvider()):
        blob = base64.b64decode(serialize_provider(provider))
        assert b"providers.dockerhub.resources" in blob  # the import path recorded in users' state
        assert type(dill.loads(blob)) is type(provider)  # noqa: S301 - our own blob


def test_secret_from_stack_config_is_used_when_the_environment_has_none(hub, monkeypatch):
    from pulumi.dynamic import ConfigureRequest
    from pulumi.dynamic.config import Config

    monkeypatch.delenv("DOCKER_PASSWORD")
    provider = RepositoryProvider()
    provider.configure(ConfigureRequest(Config({"registries:dockerHubSecret": PASSWORD}, "registries")))
    assert provider.create(repo_props(hub)).id == "acme/app"
    assert PASSWORD.encode() not in base64.b64decode(serialize_provider(provider))


def test_team_and_repository_permission_lifecycle(hub):
    from providers.dockerhub.resources import RepositoryTeamPermissionProvider, TeamProvider

    RepositoryProvider().create(repo_props(hub))
    teams = TeamProvider()
    team_props = {"baseUrl": hub.url, "org": "acme", "name": "devs", "description": "Developers"}
    team = teams.create(team_props)
    assert team.id == "acme/devs"
    assert hub.state.teams["acme/devs"]["description"] == "Developers"
    assert teams.diff(team.id, team.outs, {**team_props, "name": "ops"}).replaces == ["name"]
    teams.update(team.id, team.outs, {**team_props, "description": "Builders"})
    assert hub.state.teams["acme/devs"]["description"] == "Builders"

    grants = RepositoryTeamPermissionProvider()
    grant_props = {
        "baseUrl": hub.url,
        "namespace": "acme",
        "repository": "app",
        "teamId": team.outs["teamId"],
        "permission": "write",
    }
    assert grants.check({}, {**grant_props, "permission": "owner"}).failures
    grant = grants.create(grant_props)
    key = f"acme/app/{team.outs['teamId']}"
    assert hub.state.permissions[key]["permission"] == "write"
    assert grants.diff(grant.id, grant.outs, {**grant_props, "permission": "read"}).replaces == []
    grants.update(grant.id, grant.outs, {**grant_props, "permission": "read"})
    assert hub.state.permissions[key]["permission"] == "read"
    hub.state.permissions[key]["permission"] = "admin"  # changed in the Hub UI
    assert grants.read(grant.id, grant.outs).inputs["permission"] == "admin"

    grants.delete(grant.id, grant.outs)
    assert key not in hub.state.permissions
    teams.delete(team.id, team.outs)
    assert hub.state.teams == {}
    assert teams.read(team.id, team.outs).id == ""
