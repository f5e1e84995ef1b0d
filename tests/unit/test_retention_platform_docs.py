"""Each platform simulator against the examples of the platform's own documentation, and its document checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from components.retention import acr, artifact_registry, ecr
from components.retention.model import Image, KeepLatest, PolicyError, RetentionIntent

NOW = datetime(2026, 1, 31, tzinfo=UTC)


def image(name: str, days_ago: float, *tags: str, repository: str = "app") -> Image:
    return Image(repository, f"sha256:{name}", tags, NOW - timedelta(days=days_ago))


def names(keys: frozenset[tuple[str, str]]) -> list[str]:
    return sorted(digest.removeprefix("sha256:") for _, digest in keys)


def ecr_rule(priority: int, selection: dict[str, Any]) -> dict[str, Any]:
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def ecr_expired(document: dict[str, Any], *images: Image) -> list[str]:
    return names(ecr.simulate(ecr.parse_lifecycle_policy(document), images, NOW).expire)


# ECR user guide, lifecycle_policy_examples: "Filtering on Multiple Rules", examples A and B.
MULTIPLE_RULES = [image("A", 10, "beta-1", "prod-1"), image("B", 9, "beta-2", "prod-2"), image("C", 8, "beta-3")]


def test_ecr_doc_multiple_rules_example_a_image_is_expired_by_at_most_one_rule() -> None:
    prod = {"tagStatus": "tagged", "tagPrefixList": ["prod"], "countType": "imageCountMoreThan", "countNumber": 1}
    beta = {"tagStatus": "tagged", "tagPrefixList": ["beta"], "countType": "imageCountMoreThan", "countNumber": 1}
    assert ecr_expired({"rules": [ecr_rule(1, prod), ecr_rule(2, beta)]}, *MULTIPLE_RULES) == ["A"]


def test_ecr_doc_multiple_rules_example_b_priority_order_changes_the_outcome() -> None:
    prod = {"tagStatus": "tagged", "tagPrefixList": ["prod"], "countType": "imageCountMoreThan", "countNumber": 1}
    beta = {"tagStatus": "tagged", "tagPrefixList": ["beta"], "countType": "imageCountMoreThan", "countNumber": 1}
    assert ecr_expired({"rules": [ecr_rule(1, beta), ecr_rule(2, prod)]}, *MULTIPLE_RULES) == ["A", "B"]


def test_ecr_doc_multiple_prefixes_in_one_rule_mean_and() -> None:
    images = [
        image("A", 12, "alpha-1"),
        image("B", 11, "beta-1"),
        image("C", 10, "alpha-2", "beta-2"),
        image("D", 4, "alpha-3"),
        image("E", 3, "beta-3"),
        image("F", 2, "alpha-4", "beta-4"),
    ]
    selection = {"tagStatus": "tagged", "tagPrefixList": ["alpha", "beta"]}
    since = {"countType": "sinceImagePushed", "countUnit": "days", "countNumber": 5}
    assert ecr_expired({"rules": [ecr_rule(1, {**selection, **since})]}, *images) == ["C"]


def test_ecr_doc_tags_are_not_exclusive() -> None:
    images = [
        image("A", 10, "alpha-1", "beta-1", "gamma-1"),
        image("B", 9, "alpha-2", "beta-2"),
        image("C", 8, "alpha-3", "beta-3", "gamma-2"),
    ]
    selection = {"tagStatus": "tagged", "tagPrefixList": ["alpha", "beta"]}
    count = {"countType": "imageCountMoreThan", "countNumber": 1}
    assert ecr_expired({"rules": [ecr_rule(1, {**selection, **count})]}, *images) == ["A", "B"]


def test_ecr_doc_age_and_count_examples_for_untagged_images() -> None:
    images = [image("old", 15), image("new", 13), image("tagged", 99, "v1")]
    age = {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14}
    count = {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}
    assert ecr_expired({"rules": [ecr_rule(1, age)]}, *images) == ["old"]
    assert ecr_expired({"rules": [ecr_rule(1, count)]}, *images) == ["old"]


def test_ecr_tag_pattern_list_entries_mean_and_and_wildcards_match_anything() -> None:
    images = [image("both", 5, "prod-1", "x-test"), image("one", 4, "prod-2")]
    selection = {"tagStatus": "tagged", "tagPatternList": ["prod*", "*test*"]}
    count = {"countType": "imageCountMoreThan", "countNumber": 1}
    # `both` is the only image the rule selects, so it is the newest it keeps.
    assert ecr_expired({"rules": [ecr_rule(1, {**selection, **count})]}, *images) == []


BAD_ECR: list[tuple[Any, str, str]] = [
    ({}, "policy.rules", "required"),
    ({"rules": []}, "policy.rules", "non-empty"),
    (
        {"rules": [ecr_rule(1, {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1})]},
        "policy.rules[0].selection",
        "exactly one of tagPatternList or tagPrefixList",
    ),
    (
        {"rules": [ecr_rule(1, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 0})]},
        "policy.rules[0].selection.countNumber",
        ">= 1",
    ),
    (
        {"rules": [ecr_rule(1, {"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 3})]},
        "policy.rules[0].selection.countUnit",
        "required",
    ),
    (
        {
            "rules": [
                ecr_rule(
                    1,
                    {
                        "tagStatus": "tagged",
                        "tagPatternList": ["test*1*2*3*4*5*6"],
                        "countType": "imageCountMoreThan",
                        "countNumber": 1,
                    },
                )
            ]
        },
        "policy.rules[0].selection.tagPatternList[0]",
        "at most 4",
    ),
    (
        {
            "rules": [
                ecr_rule(1, {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}),
                ecr_rule(
                    2,
                    {
                        "tagStatus": "tagged",
                        "tagPrefixList": ["a"],
                        "countType": "imageCountMoreThan",
                        "countNumber": 1,
                    },
                ),
            ]
        },
        "policy.rules[0].rulePriority",
        "tagStatus any rule must have the highest",
    ),
    (
        {
            "rules": [
                ecr_rule(1, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}),
                ecr_rule(
                    1,
                    {
                        "tagStatus": "tagged",
                        "tagPrefixList": ["a"],
                        "countType": "imageCountMoreThan",
                        "countNumber": 1,
                    },
                ),
            ]
        },
        "policy.rules[1].rulePriority",
        "used by rules[0]",
    ),
    (
        {
            "rules": [
                ecr_rule(1, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}),
                ecr_rule(2, {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}),
            ]
        },
        "policy.rules[1].selection",
        "same images",
    ),
    (
        {
            "rules": [
                ecr_rule(
                    1, {"tagStatus": "untagged", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 1}
                )
            ]
        },
        "policy.rules[0].selection.countType",
        "pull/archive times",
    ),
    (
        {
            "rules": [
                {
                    **ecr_rule(1, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}),
                    "prio": 1,
                }
            ]
        },
        "policy.rules[0].prio",
        "unknown field",
    ),
]


@pytest.mark.parametrize(("document", "where", "words"), BAD_ECR)
def test_malformed_ecr_policy_names_the_field(document: Any, where: str, words: str) -> None:
    with pytest.raises(PolicyError) as raised:
        ecr.parse_lifecycle_policy(document)
    assert raised.value.where == where
    assert words in raised.value.problem


def test_ecr_compiles_one_single_pattern_rule_per_intent_rule_in_order() -> None:
    intent = RetentionIntent(
        protect=("latest", "v*"), keep_latest=(KeepLatest("pr-*", 5),), untagged_days=7, tagged_days=180
    )
    text = ecr.lifecycle_policy_text(intent)
    rules = json.loads(text)["rules"]
    assert [r["rulePriority"] for r in rules] == [1, 2, 3, 4, 5]
    assert [r["selection"].get("tagPatternList") for r in rules] == [["latest"], ["v*"], ["pr-*"], None, ["*"]]
    # One tag names at most one image per repository, so "more than 1" never expires a `latest` image.
    assert [r["selection"]["countNumber"] for r in rules] == [1, ecr.NEVER_EXPIRE_COUNT, 5, 7, 180]
    assert rules[3]["selection"]["tagStatus"] == "untagged"
    assert text == ecr.lifecycle_policy_text(intent)  # same input, same text: no diff on re-run


def test_ecr_policy_text_is_at_least_100_characters_even_for_one_rule() -> None:
    assert len(ecr.lifecycle_policy_text(RetentionIntent(untagged_days=1))) >= 100


def test_ecr_rejects_an_empty_rule_set() -> None:
    with pytest.raises(PolicyError, match="deletes nothing"):
        ecr.compile_lifecycle_policy(RetentionIntent())


# Artifact Registry: cleanup-policy-overview (KEEP wins; all condition fields must hold; prefix lists match any).


def ar_expired(document: dict[str, Any], *images: Image) -> list[str]:
    policies = artifact_registry.parse_cleanup_policies(document)
    return names(artifact_registry.simulate(policies, images, NOW).expire)


def test_artifact_registry_doc_keep_wins_over_delete() -> None:
    document = {
        "delete-old": {"id": "delete-old", "action": "DELETE", "condition": {"olderThan": "2592000s"}},
        "keep-release": {"id": "keep-release", "action": "KEEP", "condition": {"tagPrefixes": ["release"]}},
    }
    images = [image("rel", 40, "release-1"), image("dev", 40, "dev-1"), image("fresh", 10, "dev-2")]
    assert ar_expired(document, *images) == ["dev"]


def test_artifact_registry_doc_most_recent_versions_keeps_newest_per_package() -> None:
    document = {
        "delete-all": {"action": "DELETE", "condition": {"tagState": "ANY"}},
        "keep-2": {"action": "KEEP", "mostRecentVersions": {"packageNamePrefixes": ["app"], "keepCount": 2}},
    }
    images = [image("a1", 3), image("a2", 2, "x"), image("a3", 1), image("w1", 1, "y", repository="web")]
    assert ar_expired(document, *images) == ["a1", "w1"]


def test_artifact_registry_condition_fields_must_all_hold() -> None:
    condition = {"tagState": "TAGGED", "tagPrefixes": ["pr-"], "newerThan": "864000s", "packageNamePrefixes": ["ap"]}
    document = {"d": {"action": "DELETE", "condition": condition}}
    images = [
        image("hit", 5, "pr-1"),
        image("too-old", 11, "pr-2"),
        image("untagged", 1),
        image("other", 1, "v1"),
        image("web", 1, "pr-3", repository="web"),
    ]
    assert ar_expired(document, *images) == ["hit"]


@pytest.mark.parametrize(
    ("document", "where", "words"),
    [
        ({"d": {"action": "REMOVE", "condition": {}}}, "cleanupPolicies.d.action", "DELETE, KEEP"),
        (
            {"d": {"action": "DELETE", "condition": {"olderThan": "30d"}}},
            "cleanupPolicies.d.condition.olderThan",
            '"604800s"',
        ),
        (
            {"d": {"action": "DELETE", "mostRecentVersions": {"keepCount": 1}}},
            "cleanupPolicies.d.mostRecentVersions",
            "only allowed with action KEEP",
        ),
        ({"d": {"id": "e", "action": "DELETE", "condition": {}}}, "cleanupPolicies.d.id", "must equal its key"),
        ({str(i): {"action": "DELETE", "condition": {}} for i in range(11)}, "cleanupPolicies", "at most 10"),
        (
            {"d": {"action": "DELETE", "condition": {"tagState": "tagged"}}},
            "cleanupPolicies.d.condition.tagState",
            "TAGGED",
        ),
    ],
)
def test_malformed_cleanup_policies_name_the_field(document: Any, where: str, words: str) -> None:
    with pytest.raises(PolicyError) as raised:
        artifact_registry.parse_cleanup_policies(document)
    assert raised.value.where == where
    assert words in raised.value.problem


@pytest.mark.parametrize(
    ("intent", "rule", "words"),
    [
        (RetentionIntent(keep_latest=(KeepLatest("pr-*", 5),)), "keepLatest[0]", "newest N images of a tag pattern"),
        (RetentionIntent(protect=("latest",), tagged_days=30), "protect[0]", "not of the form PREFIX*"),
        (RetentionIntent(protect=("v*.*.*",), tagged_days=30), "protect[0]", "prefix only"),
    ],
)
def test_artifact_registry_rejects_what_it_cannot_express_naming_the_rule(
    intent: RetentionIntent, rule: str, words: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        artifact_registry.compile_cleanup_policies(intent)
    assert raised.value.where == rule
    assert words in raised.value.problem


def test_artifact_registry_compiles_protect_prefixes_to_one_keep_and_days_to_seconds() -> None:
    intent = RetentionIntent(protect=("release-*", "stable*"), untagged_days=7, tagged_days=100)
    assert artifact_registry.compile_cleanup_policies(intent) == {
        "protect": {
            "id": "protect",
            "action": "KEEP",
            "condition": {"tagState": "TAGGED", "tagPrefixes": ["release-", "stable"]},
        },
        "delete-untagged": {
            "id": "delete-untagged",
            "action": "DELETE",
            "condition": {"tagState": "UNTAGGED", "olderThan": "604800s"},
        },
        "delete-tagged": {
            "id": "delete-tagged",
            "action": "DELETE",
            "condition": {"tagState": "TAGGED", "olderThan": "8640000s"},
        },
    }


def test_protect_without_a_later_tagged_deletion_is_dropped_not_rejected() -> None:
    intent = RetentionIntent(protect=("latest",), untagged_days=7)
    assert list(artifact_registry.compile_cleanup_policies(intent)) == ["delete-untagged"]
    assert acr.compile_acr_policy(intent)["purge"] == [{"filters": [".*:.*"], "ago": "7d", "untaggedOnly": True}]


# ACR: acr-cli purge (tag regex unanchored, repo regex anchored, --keep, --untagged) and the retention policy.


def acr_expired(document: dict[str, Any], *images: Image) -> list[str]:
    return names(acr.simulate(acr.parse_acr_policy(document), images, NOW).expire)


def test_acr_purge_doc_example_deletes_matching_tags_and_then_untagged_manifests() -> None:
    # acr purge --filter "hello-world:\w*test\w*" --ago 5d --untagged
    document = {"purge": [{"filters": [r"hello-world:\w*test\w*"], "ago": "5d", "untagged": True}]}
    images = [
        image("old-test", 6, "my-test-1", repository="hello-world"),
        image("old-mixed", 6, "test-2", "v2", repository="hello-world"),  # keeps v2, so the manifest stays
        image("new-test", 4, "test-3", repository="hello-world"),
        image("dangling", 9, repository="hello-world"),
        image("other-repo", 9, "test-4", repository="hello-world-2"),  # repo regex is anchored
    ]
    assert acr_expired(document, *images) == ["dangling", "old-test"]
    _, tags_left = acr.run(acr.parse_acr_policy(document), images, NOW)
    assert tags_left[("hello-world", "sha256:old-mixed")] == ("v2",)


def test_acr_purge_doc_example_keep_keeps_the_newest_matching_tags_and_as_many_untagged_manifests() -> None:
    # acr purge --filter "hello-world:^hello.*" --ago 7d --keep 2
    images = [image(f"h{n}", 7 + n, f"hello-{n}") for n in range(1, 5)]
    tags_only = acr.parse_acr_policy({"purge": [{"filters": ["app:^hello.*"], "ago": "7d", "keep": 2}]})
    deleted, tags_left = acr.run(tags_only, images, NOW)
    assert deleted == set()
    assert [tags_left[i.key] for i in images] == [("hello-1",), ("hello-2",), (), ()]
    # With --untagged, acr-cli passes the same --keep to the dangling-manifest step: the 2 newest untagged stay.
    document = {"purge": [{"filters": ["app:^hello.*"], "ago": "7d", "keep": 2, "untagged": True}]}
    assert acr_expired(document, *images, image("h5", 30)) == ["h5"]


def test_acr_untagged_only_keeps_the_newest_untagged_manifests_and_ignores_the_tag_regex() -> None:
    # acr purge --untagged-only --ago 3d --keep 5 (here keep 1)
    document = {"purge": [{"filters": ["app:nothing-matches"], "ago": "3d", "keep": 1, "untaggedOnly": True}]}
    images = [image("u1", 4), image("u2", 5), image("u3", 2), image("t", 9, "v1")]
    assert acr_expired(document, *images) == ["u2"]


def test_acr_retention_policy_deletes_untagged_manifests_after_the_days() -> None:
    assert acr_expired({"retentionDays": 7}, image("u-old", 8), image("u-new", 6), image("t", 80, "v")) == ["u-old"]


@pytest.mark.parametrize(
    ("document", "where", "words"),
    [
        ({"retentionDays": 400}, "policy.retentionDays", "0 to 365"),
        (
            {"purge": [{"filters": ["app"], "ago": "1d"}]},
            "policy.purge[0].filters[0]",
            "<repository regex>:<tag regex>",
        ),
        ({"purge": [{"filters": ["app:.*"]}]}, "policy.purge[0].ago", "required"),
        ({"purge": [{"filters": ["app:.*"], "ago": "1 week"}]}, "policy.purge[0].ago", "30d"),
        ({"purge": [{"filters": ["app:("], "ago": "1d"}]}, "policy.purge[0].filters[0]", "regular expression"),
        (
            {"purge": [{"filters": ["a:b"], "ago": "1d", "untagged": True, "untaggedOnly": True}]},
            "policy.purge[0].untaggedOnly",
            "cannot be combined",
        ),
        ({"purge": [{"filters": ["a:b"], "ago": "1d", "keep": -1}]}, "policy.purge[0].keep", ">= 0"),
    ],
)
def test_malformed_acr_policy_names_the_field(document: Any, where: str, words: str) -> None:
    with pytest.raises(PolicyError) as raised:
        acr.parse_acr_policy(document)
    assert raised.value.where == where
    assert words in raised.value.problem


@pytest.mark.parametrize(
    ("intent", "rule", "words"),
    [
        (RetentionIntent(keep_latest=(KeepLatest("pr-*", 5),)), "keepLatest[0]", "newest N tags, not images"),
        (RetentionIntent(protect=("latest",), untagged_days=1, tagged_days=30), "protect[0]", "lose its other tags"),
        (RetentionIntent(tagged_days=30), "taggedDays", "untaggedDays <= taggedDays"),
        (RetentionIntent(untagged_days=31, tagged_days=30), "taggedDays", "untaggedDays <= taggedDays"),
    ],
)
def test_acr_rejects_what_it_cannot_express_naming_the_rule(intent: RetentionIntent, rule: str, words: str) -> None:
    with pytest.raises(PolicyError) as raised:
        acr.compile_acr_policy(intent)
    assert raised.value.where == rule
    assert words in raised.value.problem


def test_acr_compiles_untagged_then_tagged_days_into_two_purge_tasks() -> None:
    assert acr.compile_acr_policy(RetentionIntent(untagged_days=7, tagged_days=90)) == {
        "retentionDays": None,
        "purge": [
            {"filters": [".*:.*"], "ago": "7d", "untaggedOnly": True},
            {"filters": [".*:.*"], "ago": "90d", "untagged": True},
        ],
    }
