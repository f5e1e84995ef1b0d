"""RetentionArgs (the components' retention input) <-> RetentionIntent, and run-time errors naming the arg."""

from __future__ import annotations

import pytest

from components.retention.args import RetentionArgs, retention_args, retention_intent
from components.retention.model import KeepLatest, PolicyError, RetentionIntent


def test_round_trip_of_a_full_rule_set() -> None:
    intent = RetentionIntent(("latest", "v*.*.*"), (KeepLatest("release-*", 30),), 7, 180)
    assert retention_intent(retention_args(intent)) == intent


def test_absent_retention_is_the_empty_intent() -> None:
    assert retention_intent(None).is_empty
    assert retention_intent({}).is_empty


@pytest.mark.parametrize(
    ("args", "where"),
    [
        ({"protect": ["ok", "bad/tag"]}, "repositories[2].retention.protect[1]"),
        ({"keep_latest": [{"tag": "a*b*c*d*e*f", "count": 1}]}, "repositories[2].retention.keepLatest[0].tag"),
        ({"keep_latest": [{"tag": "pr-*", "count": 0}]}, "repositories[2].retention.keepLatest[0].count"),
        ({"untagged_days": 0}, "repositories[2].retention.untaggedDays"),
    ],
)
def test_a_bad_value_names_the_arg(args: RetentionArgs, where: str) -> None:
    with pytest.raises(PolicyError) as error:
        retention_intent(args, "repositories[2].retention")
    assert error.value.where == where
