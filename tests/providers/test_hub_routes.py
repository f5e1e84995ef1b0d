"""Review L8 (code-review-195bf8d): which Hub routes a repository's life uses, against the Hub emulator.

Docker Hub's published API (docker/docs content/reference/api/hub/deprecated.md and changelog.md, last entry
2025-09-25) deprecates `POST /v2/repositories[/{namespace}]`, `GET`/`HEAD /v2/repositories/{namespace}/{repository}`
and `GET /v2/repositories/{namespace}` in favour of the `/v2/namespaces/{namespace}/repositories[/{repository}]`
family. That family has create, get, check, list and immutable tags, and no update, privacy or delete: for those
the `/v2/repositories/{namespace}/{repository}/` routes (PATCH, POST .../privacy, DELETE) are the only ones, and
they are not on the deprecated list. So the provider creates, reads and lists on the namespaced routes and
updates, changes privacy and deletes on the legacy ones; this test fails when a deprecated route comes back or a
write moves to a route Hub does not have."""

from __future__ import annotations

import re

from providers.dockerhub.resources import RepositoryProvider
from tests.providers.test_hub_hardening import repo_props
from tests.support.hub_emulator import HubEmulator

DEPRECATED = [
    ("POST", r"/v2/repositories/?"),
    ("POST", r"/v2/repositories/[^/]+/?"),
    ("GET", r"/v2/repositories/[^/]+/[^/]+/?"),
    ("HEAD", r"/v2/repositories/[^/]+/[^/]+/?"),
    ("GET", r"/v2/repositories/[^/]+/?"),
]
LEGACY_ONLY = {
    ("PATCH", "/v2/repositories/acme/app/"),
    ("POST", "/v2/repositories/acme/app/privacy"),
    ("DELETE", "/v2/repositories/acme/app/"),
}


def test_a_repository_is_created_read_updated_and_deleted_on_no_deprecated_hub_route(hub: HubEmulator) -> None:
    provider = RepositoryProvider()
    olds = repo_props(hub)
    created = provider.create(olds)
    news = {**olds, "description": "The app, renamed", "private": False}
    provider.update(created.id, {**olds, **(created.outs or {})}, news)
    provider.read(created.id, news)
    assert hub.repository("acme/app") is not None
    assert hub.repository("acme/app")["description"] == "The app, renamed"  # type: ignore[index]
    assert hub.repository("acme/app")["is_private"] is False  # type: ignore[index]
    provider.delete(created.id, news)
    assert hub.repository("acme/app") is None

    seen = list(hub.state.requests)
    used = [
        (method, path)
        for method, path in seen
        if any(method == m and re.fullmatch(pattern, path) for m, pattern in DEPRECATED)
    ]
    assert used == [], f"deprecated Hub routes: {used}"
    assert ("POST", "/v2/namespaces/acme/repositories") in seen
    assert ("GET", "/v2/namespaces/acme/repositories/app") in seen
    assert {(m, p) for m, p in seen if p.startswith("/v2/repositories/")} == LEGACY_ONLY
