"""ACR: a simulator of the retention policy plus `acr purge` tasks, and the compiler intent -> that document.

Document: {"retentionDays": N | null, "purge": [{"filters": ["repoRegex:tagRegex"], "ago": "30d", "keep": 3,
"untagged": bool, "untaggedOnly": bool}]}, tasks run in order. Semantics of acr-cli ACR_CLI_VERSION (Azure/acr-cli
cmd/acr/purge.go, cmd/repository/image_functions.go at that tag; the purge task pins that image): the repo regex is
anchored, the tag regex is not; a tag is deleted when it matches and was last updated before now - ago, except the
`keep` newest such tags; --untagged then deletes the manifests without tags last updated before now - ago, except
the `keep` newest; --untagged-only skips the tag step and ignores the tag regex. The retention policy deletes an
untagged manifest `retentionDays` after it lost its last tag. Images carry one time, so a tag's and a manifest's
last-update time are the image's push time, and an image untagged in the input is taken to have been untagged since
its push. Regexes are run by Python's `re` (the same as RE2 for the patterns the compiler emits)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from components.retention.document import as_bool, as_int, as_object, as_str_list, required
from components.retention.intent import live_rules, refuse_with_referrers
from components.retention.model import (
    SECONDS_PER_DAY,
    Image,
    Outcome,
    PolicyError,
    RetentionIntent,
    by_repository,
    newest_first,
)

ACR_CLI_VERSION = "0.18"
"""The acr-cli release this simulator models: --untagged-only exists from 0.18 on, and --untagged honours --ago from
0.17 on (before, it deleted every untagged manifest). The purge task runs exactly this image."""
ACR_CLI_IMAGE = f"mcr.microsoft.com/acr/acr-cli:{ACR_CLI_VERSION}"
MAX_RETENTION_DAYS = 365
MAX_AGO = timedelta(days=150 * 365)  # acr-cli caps --ago at 150 years
AGO = re.compile(r"(?:(\d+)d)?((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))*)")
GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
ALL_REPOSITORIES = ".*:.*"
REFERRERS_WHY = (
    "acr purge deletes cosign's sha256-<digest>.sig/.att/.sbom tags like any tag (by its filter and age), and "
    "--untagged keeps an untagged referrer while its subject exists and deletes it only on a later run, once the "
    "subject is gone (acr-cli getManifests)"
)


@dataclass(frozen=True)
class PurgeTask:
    filters: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]  # (anchored repo regex, unanchored tag regex)
    ago: timedelta
    keep: int
    untagged: bool
    untagged_only: bool

    def tag_regex(self, repository: str) -> re.Pattern[str] | None:
        """acr-cli joins the tag regexes of every filter whose repo regex matches with `|`."""
        tags = [tag.pattern for repo, tag in self.filters if repo.fullmatch(repository)]
        return re.compile("|".join(tags)) if tags else None


@dataclass(frozen=True)
class AcrPolicy:
    retention_days: int | None
    purge: tuple[PurgeTask, ...]


def _ago(value: object, path: str) -> timedelta:
    match = AGO.fullmatch(value) if isinstance(value, str) and value else None
    if match is None:
        raise PolicyError(path, f'must be like "30d" or "2d3h6m" (days, then a Go duration) (got {value!r})')
    seconds = int(match.group(1) or 0) * SECONDS_PER_DAY
    seconds += sum(float(n) * GO_UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", match.group(2)))
    return min(timedelta(seconds=seconds), MAX_AGO)


def _filter(value: str, path: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    # A colon inside a non-capturing group `(?:` does not split (as in acr-cli).
    parts = value.replace("(?:", "\0").split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise PolicyError(path, f'must be "<repository regex>:<tag regex>" (got {value!r})')
    try:
        return re.compile(parts[0].replace("\0", "(?:")), re.compile(parts[1].replace("\0", "(?:"))
    except re.error as error:
        raise PolicyError(path, f"is not a valid regular expression: {error} (got {value!r})") from error


def _parse_task(value: object, path: str) -> PurgeTask:
    task = as_object(value, path, ("filters", "ago", "keep", "untagged", "untaggedOnly"))
    untagged = as_bool(task.get("untagged", False), f"{path}.untagged")
    untagged_only = as_bool(task.get("untaggedOnly", False), f"{path}.untaggedOnly")
    if untagged and untagged_only:
        raise PolicyError(f"{path}.untaggedOnly", "cannot be combined with untagged")
    if untagged_only:
        raw_filters = as_str_list(task.get("filters", [ALL_REPOSITORIES]), f"{path}.filters")
        ago = _ago(task["ago"], f"{path}.ago") if "ago" in task else timedelta(0)
    else:
        raw_filters = as_str_list(required(task, "filters", path), f"{path}.filters", min_items=1)
        ago = _ago(required(task, "ago", path), f"{path}.ago")
    filters = tuple(_filter(f, f"{path}.filters[{i}]") for i, f in enumerate(raw_filters))
    keep = as_int(task.get("keep", 0), f"{path}.keep", minimum=0)
    return PurgeTask(filters, ago, keep, untagged, untagged_only)


def parse_acr_policy(document: object) -> AcrPolicy:
    """The retention policy and purge tasks of an ACR document; PolicyError naming the field if invalid."""
    policy = as_object(document, "policy", ("retentionDays", "purge"))
    days = policy.get("retentionDays")
    if days is not None:
        days = as_int(days, "policy.retentionDays", minimum=0)
        if days > MAX_RETENTION_DAYS:
            raise PolicyError("policy.retentionDays", f"must be 0 to {MAX_RETENTION_DAYS} or null (got {days})")
    tasks = policy.get("purge", [])
    if not isinstance(tasks, list):
        raise PolicyError("policy.purge", "must be a list of purge tasks")
    return AcrPolicy(days, tuple(_parse_task(t, f"policy.purge[{i}]") for i, t in enumerate(tasks)))


def run(
    policy: AcrPolicy, images: Iterable[Image], now: datetime
) -> tuple[set[tuple[str, str]], dict[tuple[str, str], tuple[str, ...]]]:
    """(deleted images, tags left on every surviving image) after the retention policy and each purge task."""
    images = list(images)
    groups = by_repository(images)
    tags = {image.key: image.tags for image in images}
    deleted: set[tuple[str, str]] = set()
    if policy.retention_days is not None:
        cutoff = now - timedelta(days=policy.retention_days)
        deleted |= {image.key for image in images if not image.tags and image.pushed_at < cutoff}
    for task in policy.purge:
        cutoff = now - task.ago
        for repository, group in groups.items():
            tag_regex = task.tag_regex(repository)
            if tag_regex is None:
                continue  # no filter's repository regex matches this repository
            live = [image for image in newest_first(group) if image.key not in deleted]
            if not task.untagged_only:
                eligible = [
                    (image.key, tag)
                    for image in live
                    for tag in sorted(tags[image.key])
                    if tag_regex.search(tag) and image.pushed_at < cutoff
                ]
                for key, tag in eligible[task.keep :]:
                    tags[key] = tuple(t for t in tags[key] if t != tag)
                    if not tags[key] and policy.retention_days == 0:
                        deleted.add(key)  # the retention policy deletes at untag time + 0 days
            if task.untagged or task.untagged_only:
                # acr-cli lists the manifests first: a referrer whose subject exists then is not a candidate.
                present = {image.digest for image in live}
                dangling = [
                    image.key
                    for image in live
                    if not tags[image.key] and image.pushed_at < cutoff and image.subject not in present
                ]
                deleted |= set(dangling[task.keep :])
    return deleted, {key: value for key, value in tags.items() if key not in deleted}


def simulate(policy: AcrPolicy, images: Iterable[Image], now: datetime) -> Outcome:
    """Which manifests the retention policy and the purge tasks delete at `now`."""
    images = list(images)
    deleted, _ = run(policy, images, now)
    return Outcome.of(images, deleted)


def compile_acr_policy(intent: RetentionIntent, *, referrers: bool = False) -> dict[str, Any]:
    """The ACR document whose simulation equals the intent on every image set and that never strips a tag from an
    image it keeps; PolicyError naming the rule ACR cannot express (with `referrers`, any rule that deletes)."""
    if referrers:
        refuse_with_referrers(intent, "ACR", REFERRERS_WHY)
    rules = live_rules(intent)
    untagged_days = next((r.days for r in rules if r.kind == "untaggedDays"), None)
    tasks: list[dict[str, Any]] = []
    if untagged_days is not None:
        tasks.append({"filters": [ALL_REPOSITORIES], "ago": f"{untagged_days}d", "untaggedOnly": True})
    for rule in rules:
        if rule.kind == "keepLatest":
            raise PolicyError(
                rule.name, "ACR purge keeps the newest N tags, not images, and deletes tags one at a time"
            )
        if rule.kind == "protect":
            raise PolicyError(
                rule.name,
                "ACR purge deletes tags one at a time and its tag filter cannot see an image's other tags, so a "
                "protected image would lose its other tags (or be deleted) under taggedDays",
            )
        if rule.kind == "taggedDays":
            if untagged_days is None or untagged_days > rule.days:
                raise PolicyError(
                    rule.name,
                    "ACR purge --untagged also deletes every untagged manifest older than `ago`; "
                    f"set untaggedDays <= taggedDays ({rule.days})",
                )
            tasks.append({"filters": [ALL_REPOSITORIES], "ago": f"{rule.days}d", "untagged": True})
    # The retention policy counts from the moment a manifest lost its last tag, not from its push: never exact.
    return {"retentionDays": None, "purge": tasks}
