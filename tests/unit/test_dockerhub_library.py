"""DockerHub as a library (issue 10): TypedDict args the component-provider analyzer reads, the same resources from
plain nested dicts (what the provider passes) as from the stack config, inputs from other resources, and run-time
checks that name the arg before any resource is declared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.provider.experimental.analyzer import Analyzer

from components.dockerhub import DockerHub, DockerHubArgs
from components.ecr import EcrRegistry
from plugin.provider import RegistriesProvider
from registries.config import load_stack_spec
from registries.mapping.dockerhub import dockerhub_args
from tests.support.component_provider import construct, run_under_mocks, wire_secret_output
from tests.support.pulumi_runtime import is_secret
from tests.support.recording_mocks import RecordingMocks
from tests.unit.test_dockerhub_component import HOOK, HUB, REPO

ROOT = Path(__file__).resolve().parents[2]
HOOK_URL = HUB["repositories"][0]["webhooks"][0]["url"]
README = (ROOT / HUB["repositories"][0]["fullDescriptionFile"]).read_text(encoding="utf-8")
# HUB as the engine sends it to the component provider: camelCase, the file's text, the hook URL a nested secret.
WIRE: dict[str, Any] = {
    "namespace": "acme",
    "protectRepositories": False,
    "repositories": [
        {
            "name": "app",
            "description": "The app",
            "fullDescription": README,
            "immutableTags": {"enabled": True, "rules": ["v.*"]},
            "webhooks": [{"name": "ci", "url": wire_secret_output(HOOK_URL)}],
        },
        {"name": "tools", "namespace": "acmeops", "private": False},
    ],
    "accessTokens": [{"label": "ci-push", "scopes": ["repo:write"], "expiresAt": "2030-06-30T02:00:00+02:00"}],
    "orgAccessTokens": [
        {"org": "acme", "label": "deploy", "resources": [{"path": "acme/app", "scopes": ["scope-image-pull"]}]}
    ],
    "teams": [{"org": "acme", "name": "devs", "permissions": [{"repository": "app", "permission": "write"}]}],
}


def _declared(mocks: RecordingMocks) -> dict[tuple[str, str], dict[str, Any]]:
    """Inputs per dynamic resource; the pickled provider is the same object whoever declares."""
    return {
        (r.typ, r.name): {k: v for k, v in r.inputs.items() if k != "__provider"}
        for r in mocks.resources
        if r.typ.startswith("pulumi-python:dynamic/dockerhub")
    }


def test_plain_dicts_from_the_component_provider_declare_what_the_stack_config_declares():
    spec = load_stack_spec({"dockerHub": HUB}, "dev", ROOT).docker_hub
    assert spec is not None
    from_config = RecordingMocks()
    run_under_mocks(from_config, lambda: {"r": DockerHub("dockerhub", dockerhub_args(spec, False, ROOT)).repositories})
    from_wire = RecordingMocks()
    provider = RegistriesProvider([DockerHub])
    outputs = run_under_mocks(
        from_wire, lambda: construct(provider, "registries:index:DockerHub", "dockerhub", json.loads(json.dumps(WIRE)))
    )
    assert outputs["repositories"].value == ["acme/app", "acmeops/tools"]
    assert outputs["accessTokens"].secret
    assert set(outputs["accessTokens"].value) == {"ci-push"}
    declared = _declared(from_wire)
    assert len(declared) == 7
    assert declared == _declared(from_config)
    assert is_secret(from_wire.find(HOOK, "dockerhub-hook-acme-app-ci").inputs["hookUrl"])


def test_descriptions_and_the_hook_url_may_come_from_other_resources():
    def program() -> dict[str, Any]:
        readme = pulumi.Output.from_input("# from a build step").apply(lambda text: text + "\n")
        url = pulumi.Output.secret("https://ci.example.com/hook?token=from-a-secret-store")
        args: DockerHubArgs = {
            "namespace": "acme",
            "repositories": [{"name": "app", "full_description": readme, "webhooks": [{"name": "ci", "url": url}]}],
        }
        return {"r": DockerHub("lib", args).repositories}

    mocks = RecordingMocks()
    run_under_mocks(mocks, program)
    assert mocks.find(REPO, "lib-repo-acme-app").plain["fullDescription"] == "# from a build step\n"
    hook = mocks.find(HOOK, "lib-hook-acme-app-ci").inputs["hookUrl"]
    assert is_secret(hook)
    assert hook["value"] == "https://ci.example.com/hook?token=from-a-secret-store"


def _hub(**changes: Any) -> DockerHubArgs:
    args: dict[str, Any] = {"namespace": "acme", **changes}
    return args  # type: ignore[return-value]  # deliberately bad values: what a library user may pass


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (_hub(namespace="Acme"), "DockerHubArgs.namespace: 'Acme' must be 4-30 lowercase"),
        (_hub(base_url="hub.docker.com"), "DockerHubArgs.base_url: 'hub.docker.com' must be http(s)://host"),
        (_hub(repositories=[{"name": "App_"}]), "DockerHubArgs.repositories[0].name: 'App_' must be 2-255"),
        (_hub(repositories=[{"name": "a"}]), "DockerHubArgs.repositories[0].name: 'a' must be 2-255"),
        (
            _hub(repositories=[{"name": "app", "description": "x" * 101}]),
            "DockerHubArgs.repositories[0].description: 101 characters; Hub allows at most 100",
        ),
        (
            _hub(repositories=[{"name": "app", "webhooks": [{"name": "x", "url": "ftp://t0psecret@host"}]}]),
            "DockerHubArgs.repositories[0].webhooks[0].url: must be an http(s):// URL",
        ),
        (
            _hub(repositories=[{"name": "app"}, {"name": "app", "namespace": "acme"}]),
            "DockerHubArgs.repositories[1].name: names the same repository as an earlier entry",
        ),
        (
            _hub(
                repositories=[
                    {"name": "app", "webhooks": [{"name": "x-ci", "url": "https://h/1"}]},
                    {"name": "app-x", "webhooks": [{"name": "ci", "url": "https://h/2"}]},
                ]
            ),
            "DockerHubArgs.repositories[1].webhooks[0].name: names the same webhook",
        ),
        (
            _hub(access_tokens=[{"label": "x", "scopes": ["repo:all"]}]),
            "DockerHubArgs.access_tokens[0].scopes[0]: 'repo:all' must be one of 'repo:admin', 'repo:write'",
        ),
        (_hub(access_tokens=[{"label": "x", "scopes": []}]), "DockerHubArgs.access_tokens[0].scopes: give at least"),
        (
            _hub(access_tokens=[{"label": "x", "scopes": ["repo:read"], "expires_at": "2030-01-01T00:00:00"}]),
            "DockerHubArgs.access_tokens[0].expires_at: '2030-01-01T00:00:00' must be an ISO 8601 date-time with a",
        ),
        (
            _hub(
                access_tokens=[
                    {"label": "ci push", "scopes": ["repo:read"]},
                    {"label": "ci-push", "scopes": ["repo:read"]},
                ]
            ),
            "DockerHubArgs.access_tokens[1].label: names the same token as an earlier entry (both become 'ci-push')",
        ),
        (
            _hub(
                org_access_tokens=[{"org": "acme", "label": "x", "resources": [{"path": "acme/a", "scopes": ["pull"]}]}]
            ),
            "DockerHubArgs.org_access_tokens[0].resources[0].scopes[0]: 'pull' must be scope-<name>",
        ),
        (
            _hub(
                org_access_tokens=[
                    {"org": "acme", "label": "x", "resources": [{"type": "REPO", "path": "a/b", "scopes": ["scope-x"]}]}
                ]
            ),
            "DockerHubArgs.org_access_tokens[0].resources[0].type: 'REPO' must be one of 'TYPE_REPO', 'TYPE_ORG'",
        ),
        (
            _hub(
                teams=[{"org": "acme", "name": "devs", "permissions": [{"repository": "app", "permission": "owner"}]}]
            ),
            "DockerHubArgs.teams[0].permissions[0].permission: 'owner' must be one of 'read', 'write', 'admin'",
        ),
        (
            _hub(teams=[{"org": "acme", "name": "devs"}, {"org": "acme", "name": "devs"}]),
            "DockerHubArgs.teams[1].name: names the same team",
        ),
    ],
)
def test_bad_args_name_the_arg_and_declare_nothing(args: DockerHubArgs, message: str):
    mocks = RecordingMocks()
    with pytest.raises(ValueError, match=r"^DockerHubArgs\.") as caught:
        run_under_mocks(mocks, lambda: {"r": DockerHub("lib", args).repositories})
    assert message in str(caught.value)
    assert "t0psecret" not in str(caught.value)  # a hook URL is never shown
    assert mocks.resources == []  # not even the component


def test_a_hook_url_from_another_resource_is_checked_once_known_without_showing_it():
    def program() -> dict[str, Any]:
        url = pulumi.Output.secret("ftp://t0psecret@host")  # another resource's output
        args = _hub(repositories=[{"name": "app", "webhooks": [{"name": "ci", "url": url}]}])
        return {"r": DockerHub("lib", args).repositories}

    with pytest.raises(Exception, match=r"repositories\[0\]\.webhooks\[0\]\.url: must be an http\(s\)://") as caught:
        run_under_mocks(RecordingMocks(), program)
    assert "t0psecret" not in str(caught.value)


def test_the_analyzer_reads_both_components():
    result = Analyzer("registries").analyze([DockerHub, EcrRegistry])
    hub = result["component_definitions"]["DockerHub"]
    assert {k for k, v in hub.inputs.items() if not v.optional} == {"namespace"}
    assert hub.inputs["baseUrl"].plain is None  # an Input
    assert "Default: https://hub.docker.com." in str(hub.inputs["baseUrl"].description)
    types = result["type_definitions"]
    hub_types = {name for name, t in types.items() if t.module == "components.dockerhub"}
    assert len(hub_types) == 11  # 8 TypedDicts, 3 enums
    assert all(name.startswith("DockerHub") for name in hub_types)  # names are package-global
    repository = types["DockerHubRepositoryArgs"].properties
    assert repository["fullDescription"].plain is None  # text, possibly another resource's output
    assert str(types["DockerHubWebhookArgs"].properties["url"].description).startswith("Secret.")
    assert {k for k, v in hub.outputs.items() if str(v.description).startswith("Secret.")} == {
        "accessTokens",
        "orgAccessTokens",
    }
    assert "EcrRegistry" in result["component_definitions"]
