"""The plain data every retention module shares: images, the intent, the outcome, and PolicyError."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

SECONDS_PER_DAY = 86_400
REFERRER_TAG = re.compile(r"sha256-([0-9a-f]{64})(?:\.(?:sig|att|sbom))?")
"""A tag that names a subject: cosign's tag scheme (`sha256-<hex>.sig`, `.att`, `.sbom`) and the OCI 1.1 referrers
fallback tag (`sha256-<hex>`, an index of the subject's referrers, for registries without the referrers API)."""


def tag_subject(tag: str) -> str | None:
    """The subject digest a referrer tag names (`sha256-<hex>.sig` -> `sha256:<hex>`), or None for any other tag."""
    if not tag.startswith("sha256-"):
        return None
    match = REFERRER_TAG.fullmatch(tag)
    return f"sha256:{match.group(1)}" if match else None


@dataclass(frozen=True)
class Image:
    """One manifest in one repository: its digest, the tags pointing at it, and when it was pushed.

    `subject` is the digest in the manifest's `subject` field (an OCI 1.1 referrer: a signature, attestation or SBOM
    of that manifest), None for an image."""

    repository: str
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    subject: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.repository, self.digest)

    @cached_property
    def refers_to(self) -> str | None:
        """The digest this artifact refers to: its `subject` field, else the digest its referrer tag names (the
        first in tag order); None for an image, which retention rules count and expire."""
        if self.subject:
            return self.subject
        return next((digest for tag in sorted(self.tags) if (digest := tag_subject(tag))), None)


@dataclass(frozen=True)
class KeepLatest:
    """Of the images with a tag matching `tag`, keep the newest `count`."""

    tag: str
    count: int


@dataclass(frozen=True)
class RetentionIntent:
    """The validated `retention` block. Rules, in order: protect patterns, keepLatest, untaggedDays, taggedDays."""

    protect: tuple[str, ...] = ()
    keep_latest: tuple[KeepLatest, ...] = ()
    untagged_days: int | None = None
    tagged_days: int | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.protect or self.keep_latest or self.untagged_days or self.tagged_days)


@dataclass(frozen=True)
class Outcome:
    """Which images a policy deletes and which it keeps, as (repository, digest) pairs."""

    expire: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    keep: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @staticmethod
    def of(images: Iterable[Image], expired: set[tuple[str, str]]) -> Outcome:
        keys = {image.key for image in images}
        return Outcome(expire=frozenset(keys & expired), keep=frozenset(keys - expired))


class PolicyError(ValueError):
    """A native policy document is malformed, or a platform cannot express a rule of the intent.

    `where` names the field or rule (e.g. `rules[0].selection.countNumber`, `keepLatest[1]`)."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


def newest_first(images: Iterable[Image]) -> list[Image]:
    """Newest = latest push time; among equal push times the smaller digest counts as newer (acr-cli's order)."""
    return sorted(images, key=lambda image: (-image.pushed_at.timestamp(), image.digest))


def pushed_more_than(image: Image, now: datetime, seconds: float) -> bool:
    """True when the image was pushed strictly more than `seconds` before `now`."""
    return image.pushed_at < now - timedelta(seconds=seconds)


def by_repository(images: Iterable[Image]) -> dict[str, list[Image]]:
    groups: dict[str, list[Image]] = {}
    for image in images:
        groups.setdefault(image.repository, []).append(image)
    return groups
