"""The intent evaluator, case by case against the issue's definition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from components.retention.intent import evaluate
from components.retention.model import Image, KeepLatest, RetentionIntent

NOW = datetime(2026, 1, 31, tzinfo=UTC)


def image(name: str, days_ago: float, *tags: str, repository: str = "app") -> Image:
    return Image(repository, f"sha256:{name}", tags, NOW - timedelta(days=days_ago))


def expired(intent: RetentionIntent, *images: Image) -> list[str]:
    outcome = evaluate(intent, images, NOW)
    assert outcome.expire | outcome.keep == {i.key for i in images}
    return sorted(digest.removeprefix("sha256:") for _, digest in outcome.expire)


def test_issue_example_protects_keeps_newest_per_pattern_and_ages_out_the_rest() -> None:
    intent = RetentionIntent(
        protect=("latest", "stable", "v*.*.*"),
        keep_latest=(KeepLatest("release-*", 2), KeepLatest("pr-*", 1)),
        untagged_days=7,
        tagged_days=180,
    )
    images = [
        image("old-semver", 400, "v1.2.3"),  # protected however old
        image("rel1", 300, "release-1"),
        image("rel2", 200, "release-2"),
        image("rel3", 1, "release-3", "latest"),  # protected, still counted by release-*
        image("pr1", 3, "pr-1"),
        image("pr2", 2, "pr-2"),
        image("dangling-old", 8),
        image("dangling-new", 6),
        image("misc-old", 181, "nightly"),
        image("misc-new", 179, "nightly-2"),
    ]
    # release-* keeps rel3 and rel2 (the 2 newest it matches, rel3 counted though protect governs it).
    assert expired(intent, *images) == ["dangling-old", "misc-old", "pr1", "rel1"]


def test_first_matching_rule_governs_an_image_with_tags_of_two_keep_latest_patterns() -> None:
    intent = RetentionIntent(keep_latest=(KeepLatest("a*", 1), KeepLatest("b*", 5)))
    images = [image("both-old", 3, "a1", "b1"), image("a-new", 1, "a2"), image("b-only", 9, "b2")]
    # a* governs both-old (not its newest) and deletes it although b* would keep it.
    assert expired(intent, *images) == ["both-old"]


def test_keep_latest_counts_images_earlier_rules_govern() -> None:
    intent = RetentionIntent(protect=("keep",), keep_latest=(KeepLatest("x*", 1),))
    images = [image("protected-newest", 1, "keep", "x1"), image("x-older", 2, "x2")]
    assert expired(intent, *images) == ["x-older"]


def test_days_delete_only_strictly_older_images_and_untagged_rule_only_untagged() -> None:
    intent = RetentionIntent(untagged_days=7)
    images = [image("exactly-7", 7), image("over-7", 7.0001), image("tagged-old", 100, "t")]
    assert expired(intent, *images) == ["over-7"]


def test_newest_ties_are_broken_by_digest() -> None:
    intent = RetentionIntent(keep_latest=(KeepLatest("*", 1),))
    assert expired(intent, image("b", 1, "t1"), image("a", 1, "t2")) == ["b"]


def test_repositories_are_evaluated_separately() -> None:
    intent = RetentionIntent(keep_latest=(KeepLatest("*", 1),))
    images = [
        image("a1", 1, "t", repository="a"),
        image("a2", 2, "u", repository="a"),
        image("b1", 5, "t", repository="b"),
    ]
    assert expired(intent, *images) == ["a2"]


def test_images_no_rule_matches_are_kept() -> None:
    intent = RetentionIntent(keep_latest=(KeepLatest("pr-*", 1),))
    assert expired(intent, image("untagged", 900), image("other", 900, "v1")) == []
