"""The providers under the real dynamic-provider host's contract, against Hub-shaped answers.

Each test here names the review finding it guards (code-review-195bf8d.md): steady state against
Hub's own representation (H2, M5), credentials that are configuration and not identity (H3, L7),
safe creates after ambiguous failures (M1), the token secret of an inactive token (M6), one login
per process (M7), create-before-delete renames (M8), and no credentials in a pickled provider (T4).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from pulumi.dynamic import ConfigureRequest, ResourceProvider
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import UNKNOWN
from pulumi.runtime import rpc

from providers.dockerhub import resources
from providers.dockerhub.resources import (
    AccessTokenProvider,
    OrgAccessTokenProvider,
    RepositoryProvider,
    RepositoryTeamPermissionProvider,
    TeamProvider,
    WebhookProvider,
)
from tests.providers.conftest import PASSWORD, USER
from tests.support.hub_emulator import HubEmulator

FUTURE = "2030-06-30T00:00:00Z"


def configure(provider: ResourceProvider, project: str = "project", **config: Any) -> ResourceProvider:
    """Configure a provider as Pulumi's dynamic-provider host does: the whole stack config, keys
    qualified, and the host's own project name (PULUMI_PROJECT, "project" by default)."""
    raw = {f"registries:{k}": json.dumps(v) if isinstance(v, dict) else v for k, v in config.items()}
    provider.configure(ConfigureRequest(Config(raw, project)))
    return provider


def repo_props(hub: HubEmulator, **extra: Any) -> dict[str, Any]:
    return {
        "baseUrl": hub.url,
        "namespace": "acme",
        "name": "app",
        "description": "The app",
        "fullDescription": "# App\n",
        "private": True,
        "immutableTags": {"enabled": False, "rules": []},
        **extra,
    }


def token_props(hub: HubEmulator, **extra: Any) -> dict[str, Any]:
    return {"baseUrl": hub.url, "label": "ci", "scopes": ["repo:write"], "active": True, **extra}


def org_token_props(hub: HubEmulator, **extra: Any) -> dict[str, Any]:
    return {
        "baseUrl": hub.url,
        "org": "acme",
        "label": "deploy",
        "description": "pull only",
        "resources": [{"type": "TYPE_REPO", "path": "acme/app", "scopes": ["scope-image-pull"]}],
        "active": True,
        **extra,
    }


def hook_props(hub: HubEmulator, **extra: Any) -> dict[str, Any]:
    return {
        "baseUrl": hub.url,
        "namespace": "acme",
        "repository": "app",
        "name": "ci",
        "hookUrl": "https://ci.example.com/hook?secret=abc",
        **extra,
    }


def team_props(hub: HubEmulator, **extra: Any) -> dict[str, Any]:
    return {"baseUrl": hub.url, "org": "acme", "name": "devs", "description": "Developers", **extra}


def grant_props(hub: HubEmulator, team_id: Any, **extra: Any) -> dict[str, Any]:
    return {
        "baseUrl": hub.url,
        "namespace": "acme",
        "repository": "app",
        "team": "devs",
        "teamId": team_id,
        "permission": "write",
        **extra,
    }


@dataclass
class Case:
    """One provider and the props a program would give it, with what must exist first."""

    name: str
    provider: Callable[[], ResourceProvider]
    props: Callable[[HubEmulator], dict[str, Any]]


def _grant_case(hub: HubEmulator) -> dict[str, Any]:
    RepositoryProvider().create(repo_props(hub))
    team = TeamProvider().create(team_props(hub))
    return grant_props(hub, team.outs["teamId"])


def _hook_case(hub: HubEmulator) -> dict[str, Any]:
    RepositoryProvider().create(repo_props(hub))
    return hook_props(hub)


CASES = [
    # Disabled immutable tags with rules kept for later: Hub keeps no rules while disabled.
    Case("repository", RepositoryProvider, lambda h: repo_props(h, immutableTags={"enabled": False, "rules": ["v.*"]})),
    Case(
        "repository-immutable",
        RepositoryProvider,
        lambda h: repo_props(h, immutableTags={"enabled": True, "rules": ["v.*"]}),
    ),
    Case("token", AccessTokenProvider, lambda h: token_props(h, expiresAt=FUTURE)),
    Case("token-offset", AccessTokenProvider, lambda h: token_props(h, expiresAt="2030-06-30T02:00:00+02:00")),
    Case("inactive-token", AccessTokenProvider, lambda h: token_props(h, active=False)),
    Case("org-token", OrgAccessTokenProvider, lambda h: org_token_props(h, expiresAt=FUTURE)),
    Case("webhook", WebhookProvider, _hook_case),
    Case("team", TeamProvider, team_props),
    Case("permission", RepositoryTeamPermissionProvider, _grant_case),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_steady_state_after_create_and_after_refresh_is_no_change(hub, case):
    """M5/H2/T5: diff(old outputs, same inputs) is "no change", whatever form Hub answered in."""
    props = case.props(hub)
    provider = case.provider()
    created = provider.create(props)
    after_create = provider.diff(created.id, created.outs, props)
    assert after_create.changes is False, after_create.replaces
    read = provider.read(created.id, created.outs)
    assert read.id == created.id
    assert read.outs == created.outs  # `pulumi refresh` reports no drift either
    after_refresh = provider.diff(created.id, read.outs, props)
    assert after_refresh.changes is False, after_refresh.replaces


@pytest.mark.parametrize("provider_class", [AccessTokenProvider, OrgAccessTokenProvider])
def test_expiry_in_hubs_microsecond_form_or_an_offset_is_not_a_change(hub, provider_class):
    """H2: Hub answers 2021-10-28T18:30:19.520861Z; the program may say +02:00. Same instant, no replace."""
    provider = provider_class()
    props = (token_props if provider_class is AccessTokenProvider else org_token_props)(hub, expiresAt=FUTURE)
    created = provider.create(props)
    hub_shaped = {**created.outs, "expiresAt": "2030-06-30T00:00:00.520861Z"}
    assert provider.diff(created.id, hub_shaped, props).changes is False
    offset = {**props, "expiresAt": "2030-06-30T02:00:00+02:00"}
    assert provider.diff(created.id, hub_shaped, offset).changes is False
    later = provider.diff(created.id, hub_shaped, {**props, "expiresAt": "2030-07-01T00:00:00Z"})
    assert later.replaces == ["expiresAt"]


def test_the_emulator_answers_expiry_in_hubs_microsecond_form(hub):
    created = AccessTokenProvider().create(token_props(hub, expiresAt="2030-06-30T02:00:00+02:00"))
    assert hub.state.access_tokens[created.id]["expires_at"] == "2030-06-30T00:00:00.000000Z"


def _legacy(props: dict[str, Any]) -> dict[str, Any]:
    """Props as the program declared them before H3: the login name in every resource."""
    return {**props, "username": USER}


def test_switching_to_an_org_token_replaces_no_team_permission_webhook_repository_or_org_token(hub, monkeypatch):
    """H3: who logs in is configuration, not identity."""
    repo = RepositoryProvider().create(_legacy(repo_props(hub)))
    hook = WebhookProvider().create(_legacy(hook_props(hub)))
    team = TeamProvider().create(_legacy(team_props(hub)))
    grant = RepositoryTeamPermissionProvider().create(_legacy(grant_props(hub, team.outs["teamId"])))
    oat = OrgAccessTokenProvider().create(_legacy(org_token_props(hub)))

    # The stack now logs in as the organization with its org token, and declares no username per resource.
    monkeypatch.delenv("DOCKER_USERNAME")
    monkeypatch.delenv("DOCKER_PASSWORD")
    config = {"dockerHub": {"namespace": "acme", "username": "acme"}, "dockerHubSecret": oat.outs["token"]}
    plans = {
        "repository": (RepositoryProvider, repo, repo_props(hub)),
        "webhook": (WebhookProvider, hook, hook_props(hub)),
        "team": (TeamProvider, team, team_props(hub)),
        "permission": (RepositoryTeamPermissionProvider, grant, grant_props(hub, team.outs["teamId"])),
        "org token": (OrgAccessTokenProvider, oat, org_token_props(hub)),
    }
    for what, (provider_class, created, news) in plans.items():
        provider = configure(provider_class(), **config)
        diff = provider.diff(created.id, created.outs, news)
        assert diff.changes is False, (what, diff.replaces)
        assert provider.read(created.id, created.outs).id == created.id, what  # reads as the org
    assert {who for who, _ in hub.state.jwts.values()} == {USER, "acme"}


def test_a_personal_access_token_is_replaced_only_when_its_owner_changes(hub):
    pat = AccessTokenProvider().create(token_props(hub))
    same_user = configure(AccessTokenProvider(), dockerHub={"namespace": "acme", "username": USER})
    assert same_user.diff(pat.id, pat.outs, token_props(hub)).changes is False  # adding dockerHub.username
    other = configure(AccessTokenProvider(), dockerHub={"namespace": "acme", "username": "acme"})
    diff = other.diff(pat.id, pat.outs, token_props(hub))
    assert diff.replaces  # a PAT belongs to the user who created it
    assert diff.delete_before_replace is False


def test_a_refresh_records_the_owner_of_a_token_from_older_state(hub):
    pat = AccessTokenProvider().create(token_props(hub))
    older = {k: v for k, v in pat.outs.items() if k != "owner"}  # state written before `owner` existed
    read = AccessTokenProvider().read(pat.id, older)
    assert read.outs["owner"] == USER
    other = configure(AccessTokenProvider(), dockerHub={"namespace": "acme", "username": "acme"})
    assert other.diff(pat.id, read.outs, token_props(hub)).replaces == ["owner"]


def test_base_url_is_not_identity(hub):
    for provider, props in ((RepositoryProvider(), repo_props(hub)), (TeamProvider(), team_props(hub))):
        created = provider.create(props)
        moved = {**props, "baseUrl": "https://hub.example.com"}
        assert provider.diff(created.id, created.outs, moved).changes is False


def test_configure_reads_the_qualified_secret_key_whatever_the_hosts_project(hub, monkeypatch):
    """L7: the host's project is PULUMI_PROJECT ("project" by default), not ours."""
    monkeypatch.delenv("DOCKER_PASSWORD")
    provider = configure(RepositoryProvider(), project="project", dockerHubSecret=PASSWORD)
    assert provider.create(repo_props(hub)).id == "acme/app"


def test_configure_accepts_the_value_shapes_a_host_may_pass(hub, monkeypatch):
    """Objects as JSON text or as a mapping; secrets plain or still wrapped in Pulumi's secret marker."""
    from tests.support.pulumi_runtime import wrap_secret

    monkeypatch.delenv("DOCKER_USERNAME")
    monkeypatch.delenv("DOCKER_PASSWORD")
    section = {"namespace": "acme", "baseUrl": hub.url, "username": USER}
    for hub_value, secret in ((json.dumps(section), PASSWORD), (section, wrap_secret(PASSWORD))):
        provider = RepositoryProvider()
        raw = {"registries:dockerHub": hub_value, "registries:dockerHubSecret": secret}
        provider.configure(ConfigureRequest(Config(raw, "project")))
        created = provider.create(repo_props(hub, baseUrl="http://127.0.0.1:9"))  # config wins over props
        assert provider.read(created.id, created.outs).id == "acme/app"
        provider.delete(created.id, created.outs)


def test_configured_base_url_and_username_win_over_the_state_and_environment(hub, monkeypatch):
    """The connection comes from the current stack config, so a refresh never uses stale state."""
    created = RepositoryProvider().create(repo_props(hub))
    monkeypatch.setenv("DOCKER_USERNAME", "someone-else")
    stale = {**created.outs, "baseUrl": "http://127.0.0.1:9", "username": "someone-else"}
    provider = configure(RepositoryProvider(), dockerHub={"namespace": "acme", "baseUrl": hub.url, "username": USER})
    assert provider.read(created.id, stale).id == "acme/app"


@pytest.mark.parametrize(
    "provider_class",
    [
        RepositoryProvider,
        AccessTokenProvider,
        OrgAccessTokenProvider,
        WebhookProvider,
        TeamProvider,
        RepositoryTeamPermissionProvider,
    ],
)
def test_a_configured_and_used_provider_pickles_without_credentials(hub, provider_class):
    """T4: the blob of a provider that was configured with a secret and has logged in."""
    fresh = serialize_provider(provider_class())
    provider = configure(
        provider_class(),
        dockerHub={"namespace": "acme", "baseUrl": hub.url, "username": USER},
        dockerHubSecret=PASSWORD,
    )
    if provider_class is RepositoryProvider:
        provider.create(repo_props(hub))
    blob = serialize_provider(provider)
    assert PASSWORD.encode() not in base64.b64decode(blob)
    assert blob == fresh  # the state's __provider string does not change once configured


@pytest.mark.parametrize("fault", ["server-error", "timeout"])
def test_an_ambiguous_token_create_leaves_exactly_one_token_the_one_in_state(hub, monkeypatch, fault):
    """M1: Hub created the token, then answered 500 (or too late): no second, untracked token."""
    monkeypatch.setattr(resources, "REQUEST_TIMEOUT_SECONDS", 2.0)
    if fault == "server-error":
        hub.fail_after_create(status=500)
    else:
        hub.delay_after_create(seconds=4.0)  # well past the timeout, however loaded the machine
    created = AccessTokenProvider().create(token_props(hub))
    tokens = [t for t in hub.state.access_tokens.values() if t["token_label"] == "ci"]
    assert len(tokens) == 1
    assert tokens[0]["uuid"] == created.id
    assert tokens[0]["token"] == created.outs["token"]


def test_a_token_create_that_keeps_failing_leaves_no_token_behind(hub):
    """Every attempt is applied and then answered 500: the error is raised, and no orphan stays."""
    from providers.dockerhub.client import HubError

    hub.fail_after_create(status=500, count=resources.CREATE_ATTEMPTS)
    with pytest.raises(HubError, match="500"):
        AccessTokenProvider().create(token_props(hub))
    assert hub.state.access_tokens == {}


def test_an_ambiguous_create_never_deletes_a_same_labelled_token_it_did_not_create(hub, monkeypatch):
    before = AccessTokenProvider().create(token_props(hub))  # e.g. made by hand in the Hub UI
    hub.fail_after_create(status=500)
    created = AccessTokenProvider().create(token_props(hub))
    assert set(hub.state.access_tokens) == {before.id, created.id}


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.name in ("repository", "org-token", "webhook", "team", "permission")],
    ids=lambda c: c.name,
)
def test_an_object_created_before_a_server_error_is_adopted_not_duplicated(hub, case):
    """M1: after a 500 that followed the create, the object is looked up by name, not created again."""
    props = case.props(hub)
    hub.fail_after_create(status=500)
    created = case.provider().create(props)
    store = {
        "repository": hub.state.repositories,
        "org-token": hub.state.org_tokens,
        "webhook": hub.state.webhooks,
        "team": hub.state.teams,
        "permission": hub.state.permissions,
    }[case.name]
    assert len(store) == 1
    if case.name == "org-token":
        (token,) = store.values()
        assert token["token"] == created.outs["token"]  # a usable secret, the one in state
    assert case.provider().read(created.id, created.outs).id == created.id


@pytest.mark.parametrize("provider_class", [AccessTokenProvider, OrgAccessTokenProvider])
def test_a_token_created_inactive_keeps_its_secret(hub, provider_class):
    """M6: the PATCH that deactivates answers a redacted token; state keeps the POST's secret."""
    props = (token_props if provider_class is AccessTokenProvider else org_token_props)(hub, active=False)
    created = provider_class().create(props)
    store = hub.state.access_tokens if provider_class is AccessTokenProvider else hub.state.org_tokens
    (token,) = store.values()
    assert token["is_active"] is False
    assert created.outs["token"] == token["token"]
    assert created.outs["token"].startswith("dckr_")


def test_the_emulator_redacts_a_patched_token_as_hub_does(hub):
    from providers.dockerhub.client import Credentials, HubClient

    client = HubClient(hub.url, Credentials(USER, PASSWORD))
    created = client.request("POST", "/v2/access-tokens", "token", body={"token_label": "x", "scopes": ["repo:read"]})
    patched = client.request("PATCH", f"/v2/access-tokens/{created['uuid']}", "token", body={"is_active": False})
    assert patched["token"] == "***"
    assert client.request("GET", f"/v2/access-tokens/{created['uuid']}", "token")["token"] == ""


def test_a_refresh_of_twenty_resources_logs_in_once(hub):
    """M7: one client and one login per process and credentials, shared by every provider, thread-safe."""
    RepositoryProvider().create(repo_props(hub))
    items: list[tuple[ResourceProvider, str, dict[str, Any]]] = []
    for i in range(8):
        created = RepositoryProvider().create(repo_props(hub, name=f"app{i}"))
        items.append((RepositoryProvider(), created.id, created.outs))
    for i in range(4):
        created = TeamProvider().create(team_props(hub, name=f"team{i}"))
        items.append((TeamProvider(), created.id, created.outs))
    for i in range(4):
        created = AccessTokenProvider().create(token_props(hub, label=f"t{i}"))
        items.append((AccessTokenProvider(), created.id, created.outs))
    for i in range(4):
        created = WebhookProvider().create(hook_props(hub, name=f"h{i}"))
        items.append((WebhookProvider(), created.id, created.outs))
    assert len(items) == 20

    resources.forget_clients()  # a fresh provider host process
    hub.state.logins = 0
    # The host caches one provider per class and serves calls from four threads.
    hosted = {type(p): configure(type(p)()) for p, _, _ in items}
    with ThreadPoolExecutor(max_workers=4) as pool:
        reads = list(pool.map(lambda item: hosted[type(item[0])].read(item[1], item[2]), items))
    assert all(r.id for r in reads)
    assert hub.state.logins == 1


@pytest.mark.parametrize("unknown", [UNKNOWN, rpc.UNKNOWN], ids=["host-deserialized", "wire-sentinel"])
def test_a_team_edit_plans_an_update_not_a_replace_of_its_permissions(hub, unknown):
    """M5: during preview the edited team's id is unknown; its permissions must not be replaced."""
    RepositoryProvider().create(repo_props(hub))
    teams, grants = TeamProvider(), RepositoryTeamPermissionProvider()
    team = teams.create(team_props(hub))
    grant = grants.create(grant_props(hub, team.outs["teamId"]))
    team_diff = teams.diff(team.id, team.outs, team_props(hub, description="Builders"))
    assert team_diff.changes is True
    assert team_diff.replaces == []
    diff = grants.diff(grant.id, grant.outs, grant_props(hub, unknown))
    assert diff.changes is True  # shown as an update
    assert diff.replaces == []
    assert not diff.delete_before_replace
    # Once the id is known and unchanged (the team was updated in place), nothing changes.
    assert grants.diff(grant.id, grant.outs, grant_props(hub, team.outs["teamId"])).changes is False
    # A team renamed replaces its permission.
    assert grants.diff(grant.id, grant.outs, grant_props(hub, unknown, team="ops")).replaces == ["team"]


@pytest.mark.parametrize("unknown", [UNKNOWN, rpc.UNKNOWN], ids=["host-deserialized", "wire-sentinel"])
def test_unknown_inputs_during_preview_are_a_possible_update(hub, unknown):
    provider = RepositoryProvider()
    created = provider.create(repo_props(hub))
    diff = provider.diff(created.id, created.outs, repo_props(hub, description=unknown))
    assert diff.changes is True
    assert diff.replaces == []
    tokens = AccessTokenProvider()
    token = tokens.create(token_props(hub, expiresAt=FUTURE))
    assert tokens.check({}, token_props(hub, expiresAt=unknown)).failures == []
    assert tokens.diff(token.id, token.outs, token_props(hub, expiresAt=unknown)).replaces == ["expiresAt"]


def test_a_repository_rename_creates_the_new_repository_before_deleting_the_old(hub):
    """M8: names differ, so nothing forces deleting the old repository (and its images) first."""
    provider = RepositoryProvider()
    created = provider.create(repo_props(hub))
    diff = provider.diff(created.id, created.outs, repo_props(hub, name="app2"))
    assert diff.replaces == ["name"]
    assert diff.delete_before_replace is False


def test_a_webhook_replaced_under_the_same_name_is_deleted_first(hub):
    RepositoryProvider().create(repo_props(hub))
    provider = WebhookProvider()
    created = provider.create(hook_props(hub))
    diff = provider.diff(created.id, created.outs, hook_props(hub, hookUrl="https://ci.example.com/new"))
    assert diff.replaces == ["hookUrl"]
    assert diff.delete_before_replace is True
    renamed = provider.diff(created.id, created.outs, hook_props(hub, name="cd"))
    assert renamed.delete_before_replace is False
