"""The definition every compiler and test refers to: evaluate a RetentionIntent over a set of images.

Per repository, the rules form a list (protect patterns, keepLatest entries, untaggedDays, taggedDays); an image is
governed by the first rule that matches it and only that rule can delete it; a keepLatest rule counts every image it
matches, including images governed by earlier rules.

An artifact that refers to a subject (a manifest with a `subject` field, or a tag of the referrer schemes:
cosign's `sha256-<hex>.sig` / `.att` / `.sbom`, the OCI referrers fallback `sha256-<hex>`) is not an image to the
rules: no rule matches, counts or expires it. It is kept exactly as long as its subject (followed through referrers
of referrers to the image at the root) and expired with it; one whose subject is not in the repository is expired
(its subject is gone, so nothing can verify against it) by any rule list that can delete at all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

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


def root_subject(image: Image, by_digest: Mapping[str, Image]) -> Image | None:
    """The image at the root of a referrer's subject chain (the image itself when it is no referrer); None when a
    subject on the way is not in `by_digest` (gone) or the chain loops."""
    seen: set[str] = set()
    while (subject := image.refers_to) is not None:
        if subject in seen or subject not in by_digest:
            return None
        seen.add(subject)
        image = by_digest[subject]
    return image


def follow_subjects(
    images: list[Image], expired_images: set[tuple[str, str]], orphans: bool = True
) -> set[tuple[str, str]]:
    """The expire set of one repository's images given which of its images (non-referrers) expire: each referrer
    goes with the root of its subject chain, and (when `orphans`) goes when that root is gone."""
    by_digest = {image.digest: image for image in images}
    expired = set(expired_images)
    for image in images:
        if image.refers_to is not None:
            root = root_subject(image, by_digest)
            if (root is None and orphans) or (root is not None and root.key in expired_images):
                expired.add(image.key)
    return expired


def referrers_of(images: Iterable[Image]) -> dict[tuple[str, str], tuple[str, str]]:
    """Per referrer: the key of the image at the root of its subject chain (missing when that is gone)."""
    roots: dict[tuple[str, str], tuple[str, str]] = {}
    for group in by_repository(images).values():
        by_digest = {image.digest: image for image in group}
        for image in group:
            if image.refers_to is not None and (root := root_subject(image, by_digest)) is not None:
                roots[image.key] = root.key
    return roots


def evaluate(intent: RetentionIntent, images: Iterable[Image], now: datetime) -> Outcome:
    """Which images the intent deletes at `now` and which it keeps (referrers with their subjects)."""
    images = list(images)
    rules = intent_rules(intent)
    deletes = first_deleting_rule(intent) is not None  # a block whose rules delete nothing deletes nothing at all
    expired: set[tuple[str, str]] = set()
    for repository_images in by_repository(images).values():
        plain = [image for image in repository_images if image.refers_to is None]
        expired |= follow_subjects(repository_images, _repository_expired(rules, plain, now), orphans=deletes)
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


def first_deleting_rule(intent: RetentionIntent) -> IntentRule | None:
    """The first live rule that can delete (keepLatest, untaggedDays, taggedDays), or None when none can."""
    return next((rule for rule in live_rules(intent) if rule.kind != "protect"), None)


def refuse_with_referrers(intent: RetentionIntent, platform: str, why: str) -> None:
    """PolicyError naming the first rule that deletes: on `platform`, which does not keep an artifact that refers to
    a subject exactly as long as that subject (`why`, from its documentation), no deleting rule is exact."""
    if (rule := first_deleting_rule(intent)) is not None:
        raise PolicyError(
            rule.name,
            f"the repositories hold signatures, attestations or SBOMs, which {platform} cannot keep exactly as long as "
            f"their subject: {why}; so this rule could "
            "expire a kept image's signature or leave an expired image's signatures behind",
        )
