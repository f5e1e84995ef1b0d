"""Artifact Registry cleanup policies: a simulator of their documented semantics, and the compiler intent -> map.

Semantics (cloud.google.com/artifact-registry/docs/repositories/cleanup-policy-overview, REST CleanupPolicy): a
version is deleted when it matches a DELETE policy and no KEEP policy (KEEP wins). A condition matches when every
field it sets holds; each prefix list matches on any entry; olderThan/newerThan are protobuf durations ("604800s").
mostRecentVersions (KEEP only) keeps the keepCount newest versions of each package whose name has one of the
prefixes (all packages without prefixes). An image's repository is the Artifact Registry package; its digest the
version name."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from components.retention.document import as_choice, as_int, as_object, as_str, as_str_list, required
from components.retention.intent import live_rules, refuse_with_referrers
from components.retention.model import (
    SECONDS_PER_DAY,
    Image,
    Outcome,
    PolicyError,
    RetentionIntent,
    by_repository,
    newest_first,
    pushed_more_than,
)
from components.retention.patterns import prefix_of

MAX_POLICIES = 10
DURATION = re.compile(r"(\d+)(\.\d{1,9})?s")
REFERRERS_WHY = (
    "Artifact Registry cleanup policies judge each version on its own tags, tag state and age: a signature, "
    "attestation or SBOM (a sha256-<digest>.sig tag, or an untagged version with a subject) is deleted by its own "
    "age or tag and never with its subject (cleanup-policy-overview)"
)
CONDITION_KEYS = ("tagState", "tagPrefixes", "versionNamePrefixes", "packageNamePrefixes", "olderThan", "newerThan")


@dataclass(frozen=True)
class CleanupPolicy:
    policy_id: str
    action: str  # DELETE | KEEP
    tag_state: str = "ANY"
    tag_prefixes: tuple[str, ...] = ()
    version_name_prefixes: tuple[str, ...] = ()
    package_name_prefixes: tuple[str, ...] = ()
    older_than: float | None = None
    newer_than: float | None = None
    keep_count: int | None = None  # set for mostRecentVersions

    def condition_holds(self, image: Image, now: datetime) -> bool:
        return (
            (self.tag_state != "TAGGED" or bool(image.tags))
            and (self.tag_state != "UNTAGGED" or not image.tags)
            and _any_prefix(self.tag_prefixes, image.tags)
            and _any_prefix(self.version_name_prefixes, (image.digest,))
            and _any_prefix(self.package_name_prefixes, (image.repository,))
            and (self.older_than is None or pushed_more_than(image, now, self.older_than))
            and (self.newer_than is None or image.pushed_at.timestamp() > now.timestamp() - self.newer_than)
        )


def _any_prefix(prefixes: tuple[str, ...], names: Iterable[str]) -> bool:
    return not prefixes or any(name.startswith(prefix) for prefix in prefixes for name in names)


def _duration(value: object, path: str) -> float:
    if not isinstance(value, str) or not (match := DURATION.fullmatch(value)):
        raise PolicyError(path, f'must be a duration in seconds such as "604800s" (got {value!r})')
    return float(match.group(0)[:-1])


def _parse_policy(key: str, value: object, path: str) -> CleanupPolicy:
    policy = as_object(value, path, ("id", "action", "condition", "mostRecentVersions"))
    if "id" in policy and policy["id"] != key:
        raise PolicyError(f"{path}.id", f"must equal its key {key!r} (got {policy['id']!r})")
    action = as_choice(required(policy, "action", path), f"{path}.action", ("DELETE", "KEEP"))
    if ("condition" in policy) == ("mostRecentVersions" in policy):
        raise PolicyError(path, "needs exactly one of condition or mostRecentVersions")
    if "mostRecentVersions" in policy:
        mpath = f"{path}.mostRecentVersions"
        if action != "KEEP":
            raise PolicyError(mpath, "only allowed with action KEEP")
        recent = as_object(policy["mostRecentVersions"], mpath, ("packageNamePrefixes", "keepCount"))
        return CleanupPolicy(
            key,
            action,
            package_name_prefixes=as_str_list(recent.get("packageNamePrefixes", []), f"{mpath}.packageNamePrefixes"),
            keep_count=as_int(required(recent, "keepCount", mpath), f"{mpath}.keepCount", minimum=1),
        )
    cpath = f"{path}.condition"
    condition = as_object(policy["condition"], cpath, CONDITION_KEYS)
    lists = {k: as_str_list(condition.get(k, []), f"{cpath}.{k}") for k in CONDITION_KEYS if k.endswith("Prefixes")}
    return CleanupPolicy(
        key,
        action,
        tag_state=as_choice(condition.get("tagState", "ANY"), f"{cpath}.tagState", ("TAGGED", "UNTAGGED", "ANY")),
        tag_prefixes=lists["tagPrefixes"],
        version_name_prefixes=lists["versionNamePrefixes"],
        package_name_prefixes=lists["packageNamePrefixes"],
        older_than=_duration(condition["olderThan"], f"{cpath}.olderThan") if "olderThan" in condition else None,
        newer_than=_duration(condition["newerThan"], f"{cpath}.newerThan") if "newerThan" in condition else None,
    )


def parse_cleanup_policies(document: object) -> list[CleanupPolicy]:
    """The policies of a `cleanupPolicies` map (id -> policy); PolicyError naming the field if invalid."""
    if not isinstance(document, Mapping):
        raise PolicyError("cleanupPolicies", "must be a JSON object mapping policy id to policy")
    if len(document) > MAX_POLICIES:
        raise PolicyError("cleanupPolicies", f"at most {MAX_POLICIES} policies per repository (got {len(document)})")
    policies: list[CleanupPolicy] = []
    for key, value in document.items():
        as_str(key, "cleanupPolicies key")
        policies.append(_parse_policy(key, value, f"cleanupPolicies.{key}"))
    return policies


def simulate(policies: list[CleanupPolicy], images: Iterable[Image], now: datetime) -> Outcome:
    """What the cleanup job deletes under these policies at `now`."""
    images = list(images)
    kept: set[tuple[str, str]] = set()
    groups = by_repository(images)
    for policy in policies:
        if policy.keep_count is None:
            continue
        for package, group in groups.items():
            if _any_prefix(policy.package_name_prefixes, (package,)):
                kept |= {image.key for image in newest_first(group)[: policy.keep_count]}
    conditional = [p for p in policies if p.keep_count is None]
    kept |= {i.key for i in images if any(p.action == "KEEP" and p.condition_holds(i, now) for p in conditional)}
    deleted = {i.key for i in images if any(p.action == "DELETE" and p.condition_holds(i, now) for p in conditional)}
    return Outcome.of(images, deleted - kept)


def _seconds(days: int) -> str:
    return f"{days * SECONDS_PER_DAY}s"


def compile_cleanup_policies(intent: RetentionIntent, *, referrers: bool = False) -> dict[str, Any]:
    """The `cleanupPolicies` map whose cleanup equals the intent on every image set; PolicyError naming the rule
    Artifact Registry cannot express (any keepLatest; a protect pattern that is not PREFIX* while tags can expire;
    with `referrers`, any rule that deletes)."""
    if referrers:
        refuse_with_referrers(intent, "Artifact Registry", REFERRERS_WHY)
    policies: dict[str, Any] = {}
    protect_prefixes: list[str] = []
    for rule in live_rules(intent):
        if rule.kind == "keepLatest":
            raise PolicyError(
                rule.name,
                "Artifact Registry cannot keep the newest N images of a tag pattern: mostRecentVersions counts every "
                "version of a package, tagged or not, and tag conditions match by prefix only",
            )
        if rule.kind == "protect":
            assert rule.pattern is not None
            prefix = prefix_of(rule.pattern)
            if not prefix:
                raise PolicyError(
                    rule.name,
                    f"Artifact Registry matches tags by prefix only; {rule.pattern!r} is not of the form PREFIX*",
                )
            protect_prefixes.append(prefix)
        elif rule.kind == "untaggedDays":
            condition = {"tagState": "UNTAGGED", "olderThan": _seconds(rule.days)}
            policies["delete-untagged"] = {"id": "delete-untagged", "action": "DELETE", "condition": condition}
        else:
            condition = {"tagState": "TAGGED", "olderThan": _seconds(rule.days)}
            policies["delete-tagged"] = {"id": "delete-tagged", "action": "DELETE", "condition": condition}
    if protect_prefixes:
        condition = {"tagState": "TAGGED", "tagPrefixes": protect_prefixes}
        policies = {"protect": {"id": "protect", "action": "KEEP", "condition": condition}, **policies}
    return policies
