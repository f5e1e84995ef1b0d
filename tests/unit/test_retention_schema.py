"""The `retention` block: a valid block becomes the plain intent; a bad one is a ConfigError naming the key, the
value and what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from components.retention.model import KeepLatest, RetentionIntent
from registries.config.base import ConfigError
from registries.config.retention import load_retention


def test_retention_block_becomes_the_ordered_intent() -> None:
    block = {
        "protect": ["latest", "stable", "v*.*.*"],
        "keepLatest": [{"tag": "release-*", "count": 30}, {"tag": "pr-*", "count": 5}],
        "untaggedDays": 7,
        "taggedDays": 180,
    }
    assert load_retention(block) == RetentionIntent(
        protect=("latest", "stable", "v*.*.*"),
        keep_latest=(KeepLatest("release-*", 30), KeepLatest("pr-*", 5)),
        untagged_days=7,
        tagged_days=180,
    )


def test_empty_retention_block_deletes_nothing() -> None:
    assert load_retention({}).is_empty


# (block, the key the error must name, the bad value as shown, words saying what is allowed)
MALFORMED: list[tuple[dict[str, Any], str, str, str]] = [
    ({"keepLatest": [{"tag": "pr-*", "count": 0}]}, "retention.keepLatest[0].count", "0", "greater than or equal to 1"),
    ({"untaggedDays": 0}, "retention.untaggedDays", "0", "greater than or equal to 1"),
    ({"taggedDays": -3}, "retention.taggedDays", "-3", "greater than or equal to 1"),
    ({"taggedDays": "180"}, "retention.taggedDays", "'180'", "integer"),
    ({"untaggedDays": True}, "retention.untaggedDays", "True", "integer"),
    ({"keepLatest": [{"tag": "pr-*", "count": 2.5}]}, "retention.keepLatest[0].count", "2.5", "integer"),
    ({"protect": ["a*b*c*d*e*f"]}, "retention.protect[0]", "'a*b*c*d*e*f'", "at most 4 `*`"),
    ({"protect": ["ok", "feature/x"]}, "retention.protect[1]", "'feature/x'", "[0-9A-Za-z._*-]"),
    ({"protect": [""]}, "retention.protect[0]", "''", "[0-9A-Za-z._*-]"),
    ({"keepLatest": [{"tag": "pr *", "count": 1}]}, "retention.keepLatest[0].tag", "'pr *'", "[0-9A-Za-z._*-]"),
    ({"protect": ["latest", "latest"]}, "retention.protect", "['latest', 'latest']", "protect[1] repeats"),
    (
        {"protect": ["pr-*"], "keepLatest": [{"tag": "pr-*", "count": 3}]},
        "retention.keepLatest",
        "pr-*",
        "keepLatest[0].tag repeats the pattern 'pr-*'",
    ),
    (
        {"keepLatest": [{"tag": f"t{i}-*", "count": 1} for i in range(11)]},
        "retention.keepLatest",
        "t0-*",
        "at most 10 items",
    ),
    ({"keepLatests": []}, "retention.keepLatests", "[]", "unknown key"),
    ({"keepLatest": [{"tag": "pr-*"}]}, "retention.keepLatest[0].count", "nothing", "required"),
    ({"keepLatest": [{"tag": "pr-*", "count": 1, "days": 3}]}, "retention.keepLatest[0].days", "3", "unknown key"),
]


@pytest.mark.parametrize(("block", "path", "value", "allowed"), MALFORMED)
def test_bad_retention_block_names_key_value_and_what_is_allowed(
    block: dict[str, Any], path: str, value: str, allowed: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_retention(block)
    [problem] = raised.value.problems
    assert problem.path == path
    assert value in problem.value
    assert allowed in problem.allowed


def test_every_bad_key_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        load_retention({"untaggedDays": 0, "taggedDays": 0, "keepLatest": [{"tag": "a", "count": 0}]})
    assert sorted(raised.value.paths) == [
        "retention.keepLatest[0].count",
        "retention.taggedDays",
        "retention.untaggedDays",
    ]
