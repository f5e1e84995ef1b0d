"""The definition every compiler and test refers to: evaluate a RetentionIntent over a set of images.

Per repository, the rules form a list (protect patterns, keepLatest entries, untaggedDays, taggedDays); an image is
governed by the first rule that matches it and only that rule can delete it; a keepLatest rule counts every image it
matches, including images governed by earlier rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from components.retention.model import (
    SECONDS_PER_DAY,
    Image,
    Outcome,
    RetentionIntent,
    by_repository,
    newest_first,
    pushed_more_than,
)
from components.retention.patterns import any_tag_matches


@dataclass(frozen=True)
class IntentRule:
    """One rule of the list. `kind` is protect | keepLatest | untaggedDays | taggedDays; `name` says where it is."""

    kind: str
    name: str
    pattern: str | None = None
    count: int = 0
    days: int = 0

    def matches(self, image: Image) -> bool:
        if self.kind == "untaggedDays":
            return not image.tags
        if self.kind == "taggedDays":
            return bool(image.tags)
        assert self.pattern is not None
        return any_tag_matches(self.pattern, image.tags)


def intent_rules(intent: RetentionIntent) -> list[IntentRule]:
    """The intent's rules in evaluation order."""
    rules = [IntentRule("protect", f"protect[{i}]", pattern=p) for i, p in enumerate(intent.protect)]
    rules += [
        IntentRule("keepLatest", f"keepLatest[{i}]", pattern=k.tag, count=k.count)
        for i, k in enumerate(intent.keep_latest)
    ]
    if intent.untagged_days is not None:
        rules.append(IntentRule("untaggedDays", "untaggedDays", days=intent.untagged_days))
    if intent.tagged_days is not None:
        rules.append(IntentRule("taggedDays", "taggedDays", days=intent.tagged_days))
    return rules


def _repository_expired(rules: list[IntentRule], images: list[Image], now: datetime) -> set[tuple[str, str]]:
    # The images each keepLatest rule keeps: its `count` newest among all images it matches.
    kept_by_count = {
        rule.name: {image.key for image in newest_first(i for i in images if rule.matches(i))[: rule.count]}
        for rule in rules
        if rule.kind == "keepLatest"
    }
    expired: set[tuple[str, str]] = set()
    for image in images:
        governing = next((rule for rule in rules if rule.matches(image)), None)
        if governing is None or governing.kind == "protect":
            continue
        if governing.kind == "keepLatest":
            if image.key not in kept_by_count[governing.name]:
                expired.add(image.key)
        elif pushed_more_than(image, now, governing.days * SECONDS_PER_DAY):
            expired.add(image.key)
    return expired


def evaluate(intent: RetentionIntent, images: Iterable[Image], now: datetime) -> Outcome:
    """Which images the intent deletes at `now` and which it keeps."""
    images = list(images)
    rules = intent_rules(intent)
    expired: set[tuple[str, str]] = set()
    for repository_images in by_repository(images).values():
        expired |= _repository_expired(rules, repository_images, now)
    return Outcome.of(images, expired)


def live_rules(intent: RetentionIntent) -> list[IntentRule]:
    """The rules that can change an outcome: drops rules no image can reach (every tag rule after a `*` pattern)
    and protect rules that no later rule could override (nothing after them deletes tagged images)."""
    rules: list[IntentRule] = []
    for rule in intent_rules(intent):
        if rule.kind != "untaggedDays" and any(r.pattern == "*" for r in rules):
            continue  # every tagged image is already governed by the earlier `*` rule
        rules.append(rule)
    deletes_tagged = any(rule.kind in ("keepLatest", "taggedDays") for rule in rules)
    return [rule for rule in rules if rule.kind != "protect" or deletes_tagged]
