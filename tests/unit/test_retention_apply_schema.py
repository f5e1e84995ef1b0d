"""`retention:` on registries:selfHosted: the shared rule set, accepted only where the registry can delete."""

from __future__ import annotations

import pytest

from components.retention.model import KeepLatest, RetentionIntent
from registries.config import ConfigError, load_stack_spec


def test_selfhosted_retention_block_becomes_the_intent() -> None:
    block = {"protect": ["latest"], "keepLatest": [{"tag": "pr-*", "count": 2}], "taggedDays": 30}
    spec = load_stack_spec({"selfHosted": {"retention": block}}, "local")
    assert spec.self_hosted is not None
    assert spec.self_hosted.retention is not None
    assert spec.self_hosted.retention.intent() == RetentionIntent(
        protect=("latest",), keep_latest=(KeepLatest("pr-*", 2),), tagged_days=30
    )


def test_retention_without_storage_delete_is_an_error_naming_the_key() -> None:
    config = {"retention": {"taggedDays": 30}, "storage": {"kind": "filesystem", "deleteEnabled": False}}
    with pytest.raises(ConfigError) as error:
        load_stack_spec({"selfHosted": config}, "local")
    assert "registries:selfHosted.storage.deleteEnabled" in str(error.value)
    assert "retention" in str(error.value)


def test_a_bad_rule_names_its_key_under_selfhosted() -> None:
    config = {"retention": {"keepLatest": [{"tag": "pr-*", "count": 0}]}}
    with pytest.raises(ConfigError) as error:
        load_stack_spec({"selfHosted": config}, "local")
    assert "registries:selfHosted.retention.keepLatest[0].count" in str(error.value)


def test_no_retention_block_means_none() -> None:
    spec = load_stack_spec({"selfHosted": {}}, "local")
    assert spec.self_hosted is not None
    assert spec.self_hosted.retention is None
