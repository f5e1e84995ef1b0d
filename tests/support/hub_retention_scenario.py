"""One Docker Hub retention scenario shared by the unit and e2e tests of `registryctl retention apply` on Hub:
the stack's `registries:dockerHub` block, the tags seeded on the emulator, and what must expire."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from components.retention.model import Image
from tests.support.hub_emulator import HubEmulator

NOW = datetime(2026, 6, 1, tzinfo=UTC)
RETENTION = {
    "protect": ["latest", "v*.*.*"],
    "keepLatest": [{"tag": "release-*", "count": 1}, {"tag": "pr-*", "count": 2}],
    "taggedDays": 30,
}
TOOLS_RETENTION = {"keepLatest": [{"tag": "*", "count": 2}]}
REPOSITORIES = ("acme/app", "acme/tools", "acme/docs")


def digest(name: str) -> str:
    return f"sha256:{hashlib.sha256(name.encode()).hexdigest()}"


# The image deleted first (smallest digest of acme/app): two tags, each matched by a different keepLatest rule.
FIRST = "sha256:00000000" + digest("first")[15:]
# (repository, digest, {tag: age in days}). One image may carry tags pushed at different times.
SEED: list[tuple[str, str, dict[str, int]]] = [
    ("acme/app", FIRST, {"release-1": 5, "pr-1": 5}),  # release-* keeps release-2 only; counts among pr-* newest
    ("acme/app", digest("release-2"), {"release-2": 1}),
    ("acme/app", digest("pr-2"), {"pr-2": 10}),
    ("acme/app", digest("pr-3"), {"pr-3": 20}),
    ("acme/app", digest("latest"), {"latest": 100}),
    ("acme/app", digest("v1"), {"v1.0.0": 2, "pr-0": 2}),  # protected, yet the newest pr-* image
    ("acme/app", digest("feature-x"), {"feature-x": 60}),
    ("acme/app", digest("feature-y"), {"feature-y": 10}),
    ("acme/app", digest("build-7"), {"build-7": 90, "candidate": 3}),  # pushed again 3 days ago: newest push counts
    ("acme/app", digest("nightly"), {"nightly": 45}),  # a multi-platform index (see MULTI_PLATFORM)
    ("acme/tools", digest("t1"), {"t1": 1}),
    ("acme/tools", digest("t2"), {"t2": 2}),
    ("acme/tools", digest("t3"), {"t3": 3}),
    ("acme/docs", digest("d1"), {"d1": 400}),  # retention: {} here: never touched
]
MULTI_PLATFORM = {digest("nightly"): ("amd64", "arm64")}
EXPIRED_TAGS = {"acme/app": {"release-1", "pr-1", "pr-2", "pr-3", "feature-x", "nightly"}, "acme/tools": {"t3"}}
"""Worked out by hand from the rules; the tests also check it against the evaluator."""


def hub_config(url: str) -> dict[str, Any]:
    return {
        "namespace": "acme",
        "baseUrl": url,
        "retention": RETENTION,
        "repositories": [
            {"name": "app"},
            {"name": "tools", "retention": TOOLS_RETENTION},
            {"name": "docs", "retention": {}},
        ],
    }


def seed(hub: HubEmulator) -> None:
    """Push every tag of SEED (the repositories must exist)."""
    for repository, image, tags in SEED:
        for tag, age in tags.items():
            hub.push_tag(repository, tag, image, NOW - timedelta(days=age), MULTI_PLATFORM.get(image, ("amd64",)))


def expected_images() -> list[Image]:
    """The enforced repositories' images as the evaluator sees them: one per digest, pushed at its newest tag."""
    return [
        Image(repository, image, tuple(sorted(tags)), NOW - timedelta(days=min(tags.values())))
        for repository, image, tags in SEED
        if repository != "acme/docs"
    ]


def tags_on(hub: HubEmulator) -> dict[str, dict[str, str]]:
    """repository -> tag -> digest, as the emulator holds them now."""
    return {repository: hub.tag_digests(repository) for repository in REPOSITORIES}


def without_expired(tags: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """`tags` after the expired tags are deleted: every other tag still names the same digest."""
    return {
        repository: {t: d for t, d in own.items() if t not in EXPIRED_TAGS.get(repository, set())}
        for repository, own in tags.items()
    }
