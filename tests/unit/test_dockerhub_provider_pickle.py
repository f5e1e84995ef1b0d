"""Each Docker Hub resource records its provider pickled once per class (not once per resource, which cost
the program a dill pickling per repository), and records exactly what pulumi.dynamic.Resource would: the same
type token, inputs and `__provider` string. A difference here would show as a change in every existing Hub stack."""

from __future__ import annotations

import base64
from typing import Any

import dill
import pulumi
import pytest
from pulumi.dynamic import Resource, ResourceProvider
from pulumi.runtime.mocks import MockResourceArgs

from providers.dockerhub import resources
from providers.dockerhub.resources import (
    AccessTokenProvider,
    OrgAccessTokenProvider,
    RepositoryProvider,
    RepositoryTeamPermissionProvider,
    TeamProvider,
    WebhookProvider,
    serialized_provider,
)
from tests.support.component_provider import run_under_mocks

PROPS: dict[str, Any] = {"baseUrl": "https://hub.docker.com", "namespace": "acme", "name": "app"}
CLASSES = [
    (resources.Repository, RepositoryProvider, {"pullCount": None}),
    (resources.AccessToken, AccessTokenProvider, {"uuid": None, "token": None}),
    (resources.OrgAccessToken, OrgAccessTokenProvider, {"tokenId": None, "token": None}),
    (resources.Webhook, WebhookProvider, {"slug": None}),
    (resources.Team, TeamProvider, {"teamId": None}),
    (resources.RepositoryTeamPermission, RepositoryTeamPermissionProvider, {}),
]


class Registrations(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.declared: list[MockResourceArgs] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.declared.append(args)
        return f"{args.name}-id", {k: v for k, v in args.inputs.items() if k != "__provider"}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise NotImplementedError(args.token)


def _sdk_class(name: str) -> type[Resource]:
    """What the class was before: the SDK's dynamic resource, pickling a fresh provider per resource."""
    return type(name, (Resource,), {}, module="dockerhub", name=name)


@pytest.mark.parametrize(("ours", "provider", "defaults"), CLASSES, ids=[c[0].__name__ for c in CLASSES])
def test_each_resource_records_what_the_sdks_dynamic_resource_records(
    ours: type[Any], provider: type[ResourceProvider], defaults: dict[str, Any]
):
    mocks = Registrations()
    sdk = _sdk_class(ours.__name__)

    def program() -> dict[str, pulumi.Output[Any]]:
        ours("first", dict(PROPS))
        ours("second", dict(PROPS))
        sdk(provider(), "sdk", {**defaults, **PROPS})
        return {}

    run_under_mocks(mocks, program)
    first, second, reference = mocks.declared
    assert first.typ == second.typ == reference.typ == f"pulumi-python:dynamic/dockerhub:{ours.__name__}"
    for declared in (first, second):
        assert declared.inputs == reference.inputs  # inputs and the __provider string, byte for byte
    assert dill.loads(base64.b64decode(first.inputs["__provider"])).__class__ is provider  # noqa: S301 - ours


def test_a_configured_provider_pickles_as_the_cached_string():
    """The cache is right only while instances carry nothing into the pickle: configuration holds the login."""
    configured = RepositoryProvider()
    configured._settings = resources.HubSettings(username="someone", secret="s3cret")
    cached = serialized_provider(RepositoryProvider)
    from pulumi.dynamic.dynamic import serialize_provider

    assert serialize_provider(configured) == cached
    assert b"s3cret" not in base64.b64decode(cached)
