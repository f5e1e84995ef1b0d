"""`registryctl login -s STACK` for Docker Hub: which credential docker gets, checked against the Hub API
emulator (127.0.0.1), stored in docker's config without printing it. The stack is opened through the
recording `pulumi` stand-in (boundary test)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from providers.dockerhub.client import Credentials, HubClient
from registries.config.dockerhub import DockerHubSpec
from registryctl.cli import EXIT_FAILED, main
from registryctl.docker_config import DOCKER_HUB_HOST
from registryctl.hub_check import choose_hub_login
from registryctl.registry_client import RegistryCtlError
from tests.support.fake_pulumi_cli import FakePulumi
from tests.support.hub_emulator import HubEmulator
from tests.support.registryctl_project import fake_pulumi_without_hub_login, project_copy, quick_hub

USER, PASSWORD = "acmebot", "hub-password-not-for-logs"
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def _spec(**extra) -> DockerHubSpec:
    return DockerHubSpec.model_validate({"namespace": "acme", "username": USER, **extra})


def _never() -> Credentials:
    raise AssertionError("the provider's credentials must not be read when the stack declares a usable token")


def test_a_declared_personal_token_wins_over_org_tokens_and_the_provider_login():
    spec = _spec(
        accessTokens=[{"label": "ci-push", "scopes": ["repo:write"]}],
        orgAccessTokens=[
            {"org": "acme", "label": "pull", "resources": [{"path": "acme/*", "scopes": ["scope-image-pull"]}]}
        ],
    )
    choice = choose_hub_login(spec, {"ci-push": "dckr_pat_1"}, {"acme/pull": "dckr_oat_1"}, _never, now=NOW)
    assert (choice.credential.username, choice.credential.secret) == (USER, "dckr_pat_1")
    assert "personal access token 'ci-push' (repo:write) of acmebot" in choice.why


def test_inactive_and_expired_tokens_are_passed_over_for_the_org_token():
    spec = _spec(
        accessTokens=[
            {"label": "old", "scopes": ["repo:write"], "expiresAt": "2026-06-01T00:00:00Z"},
            {"label": "off", "scopes": ["repo:write"], "active": False},
        ],
        orgAccessTokens=[
            {"org": "acme", "label": "pull", "resources": [{"path": "acme/*", "scopes": ["scope-image-pull"]}]}
        ],
    )
    tokens = {"old": "dckr_pat_old", "off": "dckr_pat_off"}
    choice = choose_hub_login(spec, tokens, {"acme/pull": "dckr_oat_1"}, _never, now=NOW)
    assert (choice.credential.username, choice.credential.secret) == ("acme", "dckr_oat_1")


def test_without_declared_tokens_docker_gets_the_providers_login_and_is_told_so():
    choice = choose_hub_login(_spec(), {}, {}, lambda: Credentials(USER, PASSWORD), now=NOW)
    assert choice.credential.secret == PASSWORD
    assert "provider's own login of acmebot" in choice.why
    assert "accessTokens" in choice.why


def test_declared_tokens_that_cannot_log_in_are_an_error_not_a_fallback_to_the_admin_login():
    spec = _spec(accessTokens=[{"label": "off", "scopes": ["repo:read"], "active": False}])
    with pytest.raises(RegistryCtlError, match="every token the stack declares is inactive, expired or not deployed"):
        choose_hub_login(spec, {"off": "x"}, {}, _never, now=NOW)


def test_user_picks_a_token_by_label_and_an_unknown_label_names_the_declared_ones():
    spec = _spec(accessTokens=[{"label": "push", "scopes": ["repo:write"]}, {"label": "pull", "scopes": ["repo:read"]}])
    tokens = {"push": "p1", "pull": "p2"}
    assert choose_hub_login(spec, tokens, {}, _never, "pull", now=NOW).credential.secret == "p2"
    with pytest.raises(RegistryCtlError, match="no deployed token 'admin' in the stack; tokens: push, pull"):
        choose_hub_login(spec, tokens, {}, _never, "admin", now=NOW)


def test_a_personal_token_needs_to_know_whose_it_is():
    spec = DockerHubSpec.model_validate(
        {"namespace": "acme", "accessTokens": [{"label": "t", "scopes": ["repo:read"]}]}
    )
    with pytest.raises(RegistryCtlError, match=r"set registries:dockerHub\.username or DOCKER_USERNAME"):
        choose_hub_login(spec, {"t": "x"}, {}, _never, environ={}, now=NOW)


# --- through the CLI, against the Hub API emulator -----------------------------------------------------


@pytest.fixture
def hub() -> Iterator[HubEmulator]:
    with quick_hub({USER: PASSWORD}) as emulator:
        yield emulator


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    return fake_pulumi_without_hub_login(tmp_path, monkeypatch)


@pytest.fixture
def docker_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "docker"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"auths": {"ghcr.io": {"auth": "bWU6eA=="}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: HubEmulator) -> Path:
    root = project_copy(tmp_path, monkeypatch)
    (root / "stacks" / "Pulumi.hub.yaml").write_text(
        "config:\n"
        "  registries:dockerHub:\n"
        f"    namespace: acme\n    username: {USER}\n    baseUrl: {hub.url}\n"
        "    repositories: [{name: api, description: The API}]\n"
        "    accessTokens: [{label: ci-push, scopes: ['repo:write']}]\n"
    )
    return root


def _deployed_token(hub: HubEmulator) -> str:
    """The PAT `up` would have created (the emulator issues it as Hub does)."""
    client = HubClient(hub.url, Credentials(USER, PASSWORD))
    body = {"token_label": "ci-push", "scopes": ["repo:write"]}
    token = client.request("POST", "/v2/access-tokens", "token ci-push", body=body)["token"]
    client.close()
    return str(token)


def test_cli_login_checks_the_stacks_token_against_hub_and_stores_it_for_docker(fake, project, hub, docker_dir, capsys):
    token = _deployed_token(hub)
    fake.set_scenario(outputs={"dockerHubTokens": {"value": {"ci-push": token}, "secret": True}})
    logins = hub.state.logins
    assert main(["login", "-s", "hub"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"Docker Hub: logged in as {USER} with the stack's personal access token 'ci-push'")
    written = json.loads((docker_dir / "config.json").read_text())
    assert base64.b64decode(written["auths"][DOCKER_HUB_HOST]["auth"]).decode() == f"{USER}:{token}"
    assert written["auths"]["ghcr.io"] == {"auth": "bWU6eA=="}
    assert hub.state.logins == logins + 1  # checked with the token itself
    assert token not in out + err
    assert not [c for c in fake.calls() if c.args[:2] == ["config", "get"]]  # the admin secret was not read


def test_cli_login_with_a_token_hub_refuses_fails_and_writes_nothing(fake, project, hub, docker_dir, capsys):
    fake.set_scenario(outputs={"dockerHubTokens": {"value": {"ci-push": "dckr_pat_revoked"}, "secret": True}})
    before = (docker_dir / "config.json").read_text()
    assert main(["login", "-s", "hub"]) == EXIT_FAILED
    out, err = capsys.readouterr()
    assert "Docker Hub: Docker Hub refused the chosen credential" in err
    assert "dckr_pat_revoked" not in out + err
    assert (docker_dir / "config.json").read_text() == before
