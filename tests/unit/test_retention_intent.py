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


def hexdigest(name: str) -> str:
    return name.encode().hex().ljust(64, "0")[:64]


def signed(name: str, days_ago: float, *tags: str) -> list[Image]:
    """An image and what cosign (tag scheme) and an OCI 1.1 client without the referrers API push next to it."""
    subject = image(hexdigest(name), days_ago, *tags)
    tag = f"sha256-{hexdigest(name)}"
    return [
        subject,
        image(f"{name}-sig", days_ago, f"{tag}.sig"),
        image(f"{name}-att", days_ago, f"{tag}.att"),
        image(f"{name}-sbom", days_ago, f"{tag}.sbom"),
        image(f"{name}-referrers", 0, tag),  # the fallback index of its referrers, updated today
    ]


def test_referrers_are_never_counted_and_go_exactly_with_their_subject() -> None:
    intent = RetentionIntent(keep_latest=(KeepLatest("*", 1),))
    old, new = signed("old", 10, "v1"), signed("new", 1, "v2")
    # keepLatest * would keep only the newest tagged artifact (a referrers index, pushed today) if it counted them.
    assert expired(intent, *old, *new) == sorted(i.digest.removeprefix("sha256:") for i in old)


def test_a_kept_image_keeps_its_old_signature_under_tagged_days() -> None:
    intent = RetentionIntent(protect=("v*",), tagged_days=5)
    kept = signed("kept", 30, "v1")  # protected, its signature 30 days old too
    dropped = signed("dropped", 30, "nightly")
    assert expired(intent, *kept, *dropped) == sorted(i.digest.removeprefix("sha256:") for i in dropped)


def test_a_referrer_whose_subject_is_gone_expires_and_a_subject_field_referrer_follows_its_subject() -> None:
    intent = RetentionIntent(untagged_days=7)
    orphan = image("orphan-sig", 0, f"sha256-{hexdigest('gone')}.sig")
    subject = image(hexdigest("untagged"), 9)  # untagged and old: expires, with what refers to it
    notation = Image("app", "sha256:notation", (), NOW, subject=subject.digest)
    on_notation = Image("app", "sha256:countersign", (), NOW, subject="sha256:notation")  # a referrer of a referrer
    kept = image(hexdigest("fresh"), 1)
    kept_sig = Image("app", "sha256:fresh-sig", (), NOW - timedelta(days=30), subject=kept.digest)
    assert expired(intent, orphan, subject, notation, on_notation, kept, kept_sig) == sorted(
        ["countersign", "notation", "orphan-sig", hexdigest("untagged")]
    )


def test_a_block_that_only_protects_deletes_no_orphaned_referrer() -> None:
    orphan = image("orphan-sig", 0, f"sha256-{hexdigest('gone')}.sig")
    assert expired(RetentionIntent(protect=("v*",)), orphan) == []


def test_referrer_tags_are_matched_exactly() -> None:
    intent = RetentionIntent(tagged_days=1)
    lookalikes = [
        image("short", 5, "sha256-abc.sig"),  # not 64 hex digits: an ordinary tag
        image("upper", 5, f"sha256-{hexdigest('x').upper()}.sig"),
        image("other-suffix", 5, f"sha256-{hexdigest('x')}.zip"),
    ]
    assert expired(intent, *lookalikes) == ["other-suffix", "short", "upper"]
