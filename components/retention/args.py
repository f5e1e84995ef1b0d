"""The retention rule set as component args (a TypedDict the component-provider analyzer understands).

Every registry component (ECR, Artifact Registry, ACR) takes this one shape and turns it into the pure
`RetentionIntent` with `retention_intent`, which checks what it can and names the arg on an error."""

from typing import NotRequired, TypedDict

from components.retention.model import KeepLatest, PolicyError, RetentionIntent
from components.retention.patterns import pattern_problem


class KeepLatestArgs(TypedDict):
    """Of the images with a tag matching `tag`, keep the newest `count`."""

    tag: str
    """Tag pattern: full match, `*` matches any sequence, at most 4 `*`, characters [0-9A-Za-z._*-]."""
    count: int
    """How many of the newest matching images to keep (>= 1)."""


class RetentionArgs(TypedDict):
    """Which images to delete, as an ordered rule list: protect, keepLatest, untaggedDays, taggedDays.

    An image is governed by the first rule that matches it; only that rule can delete it."""

    protect: NotRequired[list[str]]
    """Tag patterns never deleted (e.g. `latest`, `v*.*.*`)."""
    keep_latest: NotRequired[list[KeepLatestArgs]]
    """Per rule: of the images with a tag matching `tag`, keep the newest `count`."""
    untagged_days: NotRequired[int]
    """Delete untagged images pushed more than this many days ago (>= 1); unset: keep them."""
    tagged_days: NotRequired[int]
    """Delete tagged images no earlier rule governs, pushed more than this many days ago (>= 1); unset: keep."""


def retention_intent(args: RetentionArgs | None, where: str = "retention") -> RetentionIntent:
    """The intent of `args` (empty when None); PolicyError naming `where`.<field> for a bad value."""
    if not args:
        return RetentionIntent()
    protect = tuple(args.get("protect", []))
    for index, pattern in enumerate(protect):
        if problem := pattern_problem(pattern):
            raise PolicyError(f"{where}.protect[{index}]", f"{pattern!r} {problem}")
    keep_latest: list[KeepLatest] = []
    for index, rule in enumerate(args.get("keep_latest", [])):
        if problem := pattern_problem(rule["tag"]):
            raise PolicyError(f"{where}.keepLatest[{index}].tag", f"{rule['tag']!r} {problem}")
        if int(rule["count"]) < 1:
            raise PolicyError(f"{where}.keepLatest[{index}].count", f"{rule['count']!r} must be >= 1")
        keep_latest.append(KeepLatest(rule["tag"], int(rule["count"])))
    days: dict[str, int | None] = {}
    for key, camel in (("untagged_days", "untaggedDays"), ("tagged_days", "taggedDays")):
        value = args.get(key)
        if value is not None and int(value) < 1:
            raise PolicyError(f"{where}.{camel}", f"{value!r} must be >= 1 (days)")
        days[key] = int(value) if value is not None else None
    return RetentionIntent(protect, tuple(keep_latest), days["untagged_days"], days["tagged_days"])


def retention_args(intent: RetentionIntent) -> RetentionArgs:
    """The args that `retention_intent` maps back to `intent` (the stack program's mapping uses it)."""
    args: RetentionArgs = {}
    if intent.protect:
        args["protect"] = list(intent.protect)
    if intent.keep_latest:
        args["keep_latest"] = [{"tag": rule.tag, "count": rule.count} for rule in intent.keep_latest]
    if intent.untagged_days is not None:
        args["untagged_days"] = intent.untagged_days
    if intent.tagged_days is not None:
        args["tagged_days"] = intent.tagged_days
    return args
