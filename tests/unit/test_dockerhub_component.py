"""What the DockerHub component declares from `registries:dockerHub`."""

from __future__ import annotations

from typing import Any

import pytest

from registries.config import ConfigError
from tests.support.pulumi_runtime import is_secret
from tests.unit.conftest import problem_at, record_options

REPO = "pulumi-python:dynamic/dockerhub:Repository"
TOKEN = "pulumi-python:dynamic/dockerhub:AccessToken"
ORG_TOKEN = "pulumi-python:dynamic/dockerhub:OrgAccessToken"
HOOK = "pulumi-python:dynamic/dockerhub:Webhook"
TEAM = "pulumi-python:dynamic/dockerhub:Team"
GRANT = "pulumi-python:dynamic/dockerhub:RepositoryTeamPermission"

HUB: dict[str, Any] = {
    "namespace": "acme",
    "username": "acmebot",
    "repositories": [
        {
            "name": "app",
            "description": "The app",
            "fullDescriptionFile": "tests/unit/hub_full_description.md",
            "immutableTags": {"enabled": True, "rules": ["v.*"]},
            "webhooks": [{"name": "ci", "url": "https://ci.example.com/hook?token=s3cr3t"}],
        },
        {"name": "tools", "namespace": "acmeops", "private": False},
    ],
    "accessTokens": [{"label": "ci-push", "scopes": ["repo:write"], "expiresAt": "2030-06-30T02:00:00+02:00"}],
    "orgAccessTokens": [
        {"org": "acme", "label": "deploy", "resources": [{"path": "acme/app", "scopes": ["scope-image-pull"]}]}
    ],
    "teams": [{"org": "acme", "name": "devs", "permissions": [{"repository": "app", "permission": "write"}]}],
}


def test_config_declares_repositories_webhooks_and_tokens(run):
    mocks, outputs = run(dockerHub=HUB)
    app = mocks.find(REPO, "dockerhub-repo-acme-app").plain
    assert app["namespace"] == "acme"
    assert app["private"] is True  # private by default
    assert app["immutableTags"] == {"enabled": True, "rules": ["v.*"]}
    assert app["fullDescription"].startswith("# acme/app")  # read from the file
    assert app["baseUrl"] == "https://hub.docker.com"
    tools = mocks.find(REPO, "dockerhub-repo-acmeops-tools").plain
    assert tools["private"] is False
    hook = mocks.find(HOOK, "dockerhub-hook-acme-app-ci")
    assert hook.plain["repository"] == "app"
    token = mocks.find(TOKEN, "dockerhub-token-ci-push").plain
    assert token["scopes"] == ["repo:write"]
    assert token["expiresAt"] == "2030-06-30T00:00:00Z"  # one spelling: UTC
    org = mocks.find(ORG_TOKEN, "dockerhub-org-token-acme-deploy").plain
    assert org["resources"] == [{"type": "TYPE_REPO", "path": "acme/app", "scopes": ["scope-image-pull"]}]
    assert outputs["dockerHubRepositories"].value == ["acme/app", "acmeops/tools"]
    team = mocks.find(TEAM, "dockerhub-team-acme-devs")
    assert team.plain["org"] == "acme"
    grant = mocks.find(GRANT, "dockerhub-permission-acme-app-devs").plain
    assert grant["permission"] == "write"
    assert grant["repository"] == "app"
    assert grant["team"] == "devs"  # named by the team, known even while the team's id is not
    assert grant["teamId"] > 0  # wired from the team's output
    assert float(grant["teamId"]).is_integer()


def test_hook_url_and_tokens_are_secret(run):
    mocks, outputs = run(dockerHub=HUB, secret=True)
    assert is_secret(mocks.find(HOOK, "dockerhub-hook-acme-app-ci").inputs["hookUrl"])
    assert outputs["dockerHubTokens"].secret
    assert outputs["dockerHubOrgTokens"].secret
    assert set(outputs["dockerHubTokens"].value) == {"ci-push"}
    assert set(outputs["dockerHubOrgTokens"].value) == {"acme/deploy"}
    assert not outputs["dockerHubRepositories"].secret
    for resource in mocks.resources:
        if resource.typ.startswith("pulumi-python:dynamic/dockerhub"):
            assert "s3cr3t" not in str({k: v for k, v in resource.plain.items() if k != "hookUrl"})


def test_credentials_never_become_resource_inputs(run, monkeypatch):
    monkeypatch.setenv("DOCKER_PASSWORD", "env-password-value")
    mocks, _ = run(dockerHub=HUB, dockerHubSecret="config-secret-value")
    for resource in mocks.resources:
        text = str(resource.plain)
        assert "env-password-value" not in text
        assert "config-secret-value" not in text


def test_who_logs_in_is_never_a_resource_input(run):
    """H3: adding dockerHub.username (or switching to an org token) changes no resource's inputs."""
    without = {k: v for k, v in HUB.items() if k != "username"}
    with_user, _ = run(dockerHub=HUB)
    as_org, _ = run(dockerHub={**without, "username": "acme"})
    from_env, _ = run(dockerHub=without)
    hub_resources = [r for r in with_user.resources if r.typ.startswith("pulumi-python:dynamic/dockerhub")]
    assert len(hub_resources) == 7
    for resource in hub_resources:
        assert "username" not in resource.plain
        for other in (as_org, from_env):
            same = other.find(resource.typ, resource.name).plain
            assert {k: v for k, v in same.items() if k != "teamId"} == {
                k: v for k, v in resource.plain.items() if k != "teamId"
            }, resource.name


def test_no_tokens_are_empty_maps(run):
    """L9: a stack without tokens exports {} (a map, as with tokens), not []."""
    _, outputs = run(dockerHub={"namespace": "acme", "repositories": [{"name": "app"}]})
    assert outputs["dockerHubTokens"].value == {}
    assert outputs["dockerHubOrgTokens"].value == {}


def test_repositories_are_protected_on_prod_stacks(run, monkeypatch):
    import components.dockerhub as module

    options = record_options(monkeypatch, module, "Repository")
    run(
        stack="prod",
        dockerHub={"namespace": "acme", "repositories": [{"name": "app"}, {"name": "bin", "protect": False}]},
    )
    assert {name: bool(opts.protect) for name, opts in options.items()} == {
        "dockerhub-repo-acme-app": True,
        "dockerhub-repo-acme-bin": False,
    }
    run(stack="dev", dockerHub={"namespace": "acme", "repositories": [{"name": "app"}]})
    assert not options["dockerhub-repo-acme-app"].protect


BAD_HUB = [
    (
        {
            "namespace": "acme",
            "teams": [{"org": "acme", "name": "devs", "permissions": [{"repository": "app", "permission": "owner"}]}],
        },
        "registries:dockerHub.teams[0].permissions[0].permission",
        "'read', 'write' or 'admin'",
    ),
    (
        {"namespace": "acme", "teams": [{"org": "acme", "name": "devs"}, {"org": "acme", "name": "devs"}]},
        "registries:dockerHub.teams[1].name",
        "unique",
    ),
    ({"repositories": [{"name": "app"}]}, "registries:dockerHub.namespace", "required"),
    ({"namespace": "Acme"}, "registries:dockerHub.namespace", "pattern"),
    ({"namespace": "acme", "repositories": [{"name": "App_"}]}, "registries:dockerHub.repositories[0].name", "pattern"),
    ({"namespace": "acme", "repositories": [{"name": "a"}]}, "registries:dockerHub.repositories[0].name", "at least 2"),
    (
        {"namespace": "acme", "repositories": [{"name": "app", "description": "x" * 101}]},
        "registries:dockerHub.repositories[0].description",
        "at most 100",
    ),
    (
        {"namespace": "acme", "repositories": [{"name": "app"}, {"name": "app"}]},
        "registries:dockerHub.repositories[1].name",
        "declared twice",
    ),
    (
        {"namespace": "acme", "repositories": [{"name": "app", "fullDescriptionFile": "missing.md"}]},
        "registries:dockerHub.repositories[0].fullDescriptionFile",
        "no such file",
    ),
    (
        {"namespace": "acme", "repositories": [{"name": "app", "webhooks": [{"name": "x", "url": "ftp://h"}]}]},
        "registries:dockerHub.repositories[0].webhooks[0].url",
        "http(s)://",
    ),
    (
        {"namespace": "acme", "accessTokens": [{"label": "x", "scopes": ["repo:all"]}]},
        "registries:dockerHub.accessTokens[0].scopes[0]",
        "repo:admin",
    ),
    (
        {"namespace": "acme", "accessTokens": [{"label": "x", "scopes": []}]},
        "registries:dockerHub.accessTokens[0].scopes",
        "at least 1",
    ),
    (
        {
            "namespace": "acme",
            "accessTokens": [{"label": "x", "scopes": ["repo:read"], "expiresAt": "2027-01-01T00:00:00"}],
        },
        "registries:dockerHub.accessTokens[0].expiresAt",
        "time zone",
    ),
    (
        {
            "namespace": "acme",
            "orgAccessTokens": [
                {"org": "acme", "label": "x", "resources": [{"path": "acme/a", "scopes": ["repo-pull"]}]}
            ],
        },
        "registries:dockerHub.orgAccessTokens[0].resources[0].scopes[0]",
        "pattern",
    ),
    (
        {
            "namespace": "acme",
            "accessTokens": [{"label": "x", "scopes": ["repo:read"]}, {"label": "x", "scopes": ["repo:read"]}],
        },
        "registries:dockerHub.accessTokens[1].label",
        "unique",
    ),
    # L5: labels and names that become the same resource name.
    (
        {
            "namespace": "acme",
            "accessTokens": [
                {"label": "ci push", "scopes": ["repo:read"]},
                {"label": "ci-push", "scopes": ["repo:read"]},
            ],
        },
        "registries:dockerHub.accessTokens[1].label",
        "'ci-push'",
    ),
    (
        {
            "namespace": "acme",
            "orgAccessTokens": [
                {"org": "acme", "label": "ci/push", "resources": [{"path": "acme/a", "scopes": ["scope-image-pull"]}]},
                {"org": "acme", "label": "ci push", "resources": [{"path": "acme/a", "scopes": ["scope-image-pull"]}]},
            ],
        },
        "registries:dockerHub.orgAccessTokens[1].label",
        "same token",
    ),
    (
        {
            "namespace": "acme",
            "repositories": [
                {"name": "app", "webhooks": [{"name": "x-ci", "url": "https://h/1"}]},
                {"name": "app-x", "webhooks": [{"name": "ci", "url": "https://h/2"}]},
            ],
        },
        "registries:dockerHub.repositories[1].webhooks[0].name",
        "same webhook",
    ),
    (
        {
            "namespace": "acme",
            "repositories": [
                {
                    "name": "app",
                    "webhooks": [{"name": "ci push", "url": "https://h/1"}, {"name": "ci-push", "url": "https://h/2"}],
                }
            ],
        },
        "registries:dockerHub.repositories[0].webhooks[1].name",
        "same webhook",
    ),
    (
        {
            "namespace": "acme",
            "teams": [
                {"org": "acme", "name": "devs", "permissions": [{"repository": "app-x"}]},
                {"org": "acme", "name": "x-devs", "permissions": [{"repository": "app"}]},
            ],
        },
        "registries:dockerHub.teams[1].permissions[0].repository",
        "same permission",
    ),
    # L4: the file is published on Hub, so it must come from the project.
    (
        {"namespace": "acme", "repositories": [{"name": "app", "fullDescriptionFile": "../../../../etc/passwd"}]},
        "registries:dockerHub.repositories[0].fullDescriptionFile",
        "inside the project directory",
    ),
    (
        {"namespace": "acme", "repositories": [{"name": "app", "fullDescriptionFile": "/etc/hostname"}]},
        "registries:dockerHub.repositories[0].fullDescriptionFile",
        "inside the project directory",
    ),
]


@pytest.mark.parametrize(("config", "key", "words"), BAD_HUB)
def test_bad_hub_config_names_the_key_and_declares_nothing(run, config, key, words):
    with pytest.raises(ConfigError) as caught:
        run(dockerHub=config)
    assert words in problem_at(caught.value, key).allowed


def test_webhook_url_is_never_echoed_in_errors(run):
    with pytest.raises(ConfigError) as caught:
        run(
            dockerHub={
                "namespace": "acme",
                "repositories": [{"name": "app", "webhooks": [{"name": "x", "url": "ftp://t0psecret"}]}],
            }
        )
    assert "t0psecret" not in str(caught.value)


def test_hub_stack_file_declares_its_repositories_tokens_and_team():
    from tests.support.pulumi_runtime import run_program
    from tests.support.recording_mocks import RecordingMocks
    from tests.unit.conftest import ALL_STACK_FILES, stack_config

    stack, config, secret_keys = stack_config(next(p for p in ALL_STACK_FILES if p.name == "Pulumi.hub.yaml"))
    mocks = RecordingMocks()
    outputs = run_program(mocks, stack=stack, config=config, secret_keys=secret_keys)
    assert outputs["dockerHubRepositories"].value == ["acmecorp/api", "acmecorp/worker"]
    assert set(outputs["dockerHubTokens"].value) == {"ci-push"}
    assert len(mocks.of_type(GRANT)) == 2
    assert "endpoint" not in outputs  # no self-hosted registry in this stack
