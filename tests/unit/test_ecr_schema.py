"""`registries:ecr`: defaults inherited per repository, and one ConfigError naming every bad key before any resource."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from registries.config import ConfigError, load_stack_spec
from tests.unit.conftest import problem_at

ECR: dict[str, Any] = {
    "region": "eu-west-1",
    "defaults": {
        "mutableTags": ["latest"],
        "encryption": {"kind": "kms", "kmsKeyId": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd"},
        "retention": {"untaggedDays": 7, "keepLatest": [{"tag": "v*", "count": 50}]},
        "readers": ["arn:aws:iam::111122223333:root"],
    },
    "repositories": [
        {"name": "team/api"},
        {"name": "team/worker", "retention": {"untaggedDays": 1}, "readers": [], "scanOnPush": False},
    ],
}


def ecr_config(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(ECR)
    config.update(changes)
    return config


def test_repositories_inherit_defaults_and_override_them():
    spec = load_stack_spec({"ecr": ECR}, "dev").ecr
    assert spec is not None
    api, worker = (spec.effective(repo) for repo in spec.repositories)
    assert api.mutable_tags == ["latest"]
    assert api.immutable_tags is True
    assert api.encryption.kind == "kms"
    assert api.retention is not None
    assert api.retention.untagged_days == 7
    assert api.readers == ["arn:aws:iam::111122223333:root"]
    assert api.scan_on_push is True
    # Overrides replace the inherited value as a whole (retention too), other keys stay inherited.
    assert worker.retention is not None
    assert worker.retention.keep_latest == []
    assert worker.retention.untagged_days == 1
    assert worker.readers == []
    assert worker.scan_on_push is False
    assert worker.mutable_tags == ["latest"]


def test_built_in_defaults_are_the_safe_ones():
    spec = load_stack_spec({"ecr": {"region": "us-east-1", "repositories": [{"name": "app"}]}}, "dev").ecr
    assert spec is not None
    settings = spec.effective(spec.repositories[0])
    assert settings.immutable_tags is True
    assert settings.scan_on_push is True
    assert settings.encryption.kind == "aes256"
    assert settings.encryption.kms_key_id is None
    assert settings.force_delete is False
    assert settings.retention is None
    assert settings.readers == []
    assert settings.writers == []
    assert settings.lambda_readers is False


def test_every_bad_key_is_named_in_one_error():
    bad = ecr_config(
        region="eu-west",
        defaults={
            "mutableTags": ["v[0-9]+", "a*b*c*", "ok"],
            "immutableTags": "yes",
            "encryption": {"kind": "aes256", "kmsKeyId": "alias/registry"},
            "readers": ["bob"],
            "writers": ["111122223333", "111122223333"],
            "retention": {"untaggedDays": 0},
            "colour": "blue",
        },
        repositories=[{"name": "Team/API"}, {"name": "ok", "scanOnPush": 1}],
    )
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": bad}, "dev")
    error = caught.value
    root = "registries:ecr"
    assert "AWS region" in problem_at(error, f"{root}.region").allowed
    assert "not a regex" in problem_at(error, f"{root}.defaults.mutableTags[0]").allowed
    assert "at most 2" in problem_at(error, f"{root}.defaults.mutableTags[1]").allowed
    assert problem_at(error, f"{root}.defaults.immutableTags").value == "'yes'"
    assert "only allowed with kind: kms" in problem_at(error, f"{root}.defaults.encryption").allowed
    assert "12-digit account id" in problem_at(error, f"{root}.defaults.readers[0]").allowed
    assert "repeats" in problem_at(error, f"{root}.defaults.writers").allowed
    assert problem_at(error, f"{root}.defaults.retention.untaggedDays").value == "0"
    assert "unknown key" in problem_at(error, f"{root}.defaults.colour").allowed
    assert "lowercase" in problem_at(error, f"{root}.repositories[0].name").allowed
    assert "true or false" in problem_at(error, f"{root}.repositories[1].scanOnPush").allowed
    assert len(error.problems) == 11, error.paths


def test_region_and_at_least_one_repository_are_required():
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": {"repositories": []}}, "dev")
    assert problem_at(caught.value, "registries:ecr.region").allowed == "required key is missing"
    assert "at least 1" in problem_at(caught.value, "registries:ecr.repositories").allowed


def test_force_delete_is_refused_on_prod_stacks_only():
    config = ecr_config(repositories=[{"name": "app", "forceDelete": True}, {"name": "tools"}])
    assert load_stack_spec({"ecr": config}, "dev").ecr is not None
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": config}, "prod-eu")
    problem = problem_at(caught.value, "registries:ecr.repositories[0].forceDelete")
    assert "prod" in problem.allowed
    inherited = ecr_config(defaults={"forceDelete": True})
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": inherited}, "prod")
    # Inherited from defaults: named once per repository, saying where it comes from.
    assert caught.value.paths == [
        "registries:ecr.defaults.forceDelete (inherited by team/api)",
        "registries:ecr.defaults.forceDelete (inherited by team/worker)",
    ]


def test_mutable_tags_need_immutable_tags_and_names_are_unique():
    config = ecr_config(repositories=[{"name": "app", "immutableTags": False}, {"name": "app"}])
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": config}, "dev")
    inherited = problem_at(caught.value, "registries:ecr.defaults.mutableTags (inherited by app)")
    assert "immutableTags: true" in inherited.allowed
    assert "repeats" in problem_at(caught.value, "registries:ecr.repositories[1].name").allowed
    # Overriding mutableTags with [] makes a mutable repository valid.
    ok = ecr_config(repositories=[{"name": "app", "immutableTags": False, "mutableTags": []}])
    assert load_stack_spec({"ecr": ok}, "dev").ecr is not None


def test_too_many_mutable_tag_filters():
    config = ecr_config(defaults={"mutableTags": [f"t{i}" for i in range(6)]})
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": config}, "dev")
    assert "at most 5" in problem_at(caught.value, "registries:ecr.defaults.mutableTags").allowed


def test_kms_key_must_be_a_key_arn_in_the_registry_region():
    # ECR reads back the key ARN; an alias or bare id would differ from it on every refresh and replace the repository.
    alias = "alias/registry"
    other_region = "arn:aws:kms:us-east-1:111122223333:key/1234abcd"
    config = ecr_config(
        defaults={"encryption": {"kind": "kms", "kmsKeyId": alias}},
        repositories=[
            {"name": "team/api", "encryption": {"kind": "kms", "kmsKeyId": other_region}},
            {"name": "team/worker", "encryption": {"kind": "kms", "kmsKeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}},
            {"name": "team/aws-key", "encryption": {"kind": "kms"}},  # the AWS-managed key: ECR fills in its ARN
            {"name": "team/inherits"},
        ],
    )
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"ecr": config}, "dev")
    root = "registries:ecr"
    assert caught.value.paths == [
        f"{root}.defaults.encryption.kmsKeyId",
        f"{root}.repositories[0].encryption.kmsKeyId",
        f"{root}.repositories[1].encryption.kmsKeyId",
    ]
    problem = problem_at(caught.value, f"{root}.defaults.encryption.kmsKeyId")
    assert problem.value == repr(alias)
    assert "arn:aws:kms:eu-west-1:<account>:key/<id>" in problem.allowed
    assert problem_at(caught.value, f"{root}.repositories[0].encryption.kmsKeyId").value == repr(other_region)
    # A key ARN in the registry's region is accepted (ECR's own ARN is the example's default).
    assert load_stack_spec({"ecr": ecr_config()}, "dev").ecr is not None
