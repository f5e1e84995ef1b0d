"""registries:artifactRegistry validation: one ConfigError naming every bad key, its value and what is allowed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from registries.config import ConfigError, load_stack_spec, plain_secret_problems

HOOK_URL = "https://hooks.example.com/ar?token=s3cr3t-hook-token"
AR: dict[str, Any] = {
    "project": "acme-prod-1",
    "location": "europe-west1",
    "defaults": {
        "retention": {"protect": ["v*"], "untaggedDays": 7, "taggedDays": 90},
        "readers": ["group:devs@acme.com"],
    },
    "repositories": [
        {
            "name": "apps",
            "description": "Application images",
            "writers": ["serviceAccount:ci@acme-prod-1.iam.gserviceaccount.com"],
        },
        {"name": "scratch", "immutableTags": False, "vulnerabilityScanning": False, "retention": {}},
    ],
    "gcrDomains": ["gcr.io", "eu.gcr.io"],
    "mirrors": [
        {
            "name": "dockerhub",
            "credentials": {
                "username": "acme",
                "passwordSecretVersion": "projects/acme-prod-1/secrets/dockerhub-token/versions/latest",
            },
        }
    ],
    "virtual": [
        {
            "name": "all",
            "upstreams": [{"repository": "apps", "priority": 100}, {"repository": "dockerhub", "priority": 10}],
        }
    ],
    "notifications": [{"name": "deploy", "url": HOOK_URL}],
    "ci": {"githubOidc": {"repository": "acme/app", "refs": ["refs/heads/main", "refs/tags/v*"]}},
}


def ar_config(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(AR)
    config.update(changes)
    return config


def problems(config: dict[str, Any], stack: str = "dev") -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"artifactRegistry": config}, stack)
    return {p.path: f"{p.allowed} (got {p.value})" for p in caught.value.problems}


def test_a_full_config_validates_with_its_defaults():
    spec = load_stack_spec({"artifactRegistry": AR}, "dev").artifact_registry
    assert spec is not None
    apps, scratch = spec.repositories
    assert spec.effective(apps).retention is not None
    assert spec.effective(apps).vulnerability_scanning is True  # scanning on unless switched off
    assert spec.effective(apps).immutable_tags is None  # decided by the stack (prod: immutable)
    scratch_retention = spec.effective(scratch).retention
    assert scratch_retention is not None
    assert scratch_retention.intent().is_empty
    assert spec.effective(scratch).readers == ["group:devs@acme.com"]  # inherited
    assert spec.cleanup_dry_run is False
    assert spec.create_gcr_topic is True


def test_every_bad_key_is_named_in_one_error_with_value_and_what_is_allowed():
    config = ar_config(
        project="Acme",
        location="mars-north",
        gcrDomains=["gcr.io", "cn.gcr.io"],
        repositories=[
            {"name": "Apps", "labels": {"Team": "x"}, "readers": ["bob@acme.com"]},
            {"name": "ok", "kmsKeyName": "alias/foo", "retention": {"untaggedDays": 0}},
        ],
        mirrors=[{"name": "hub", "upstream": "quay", "credentials": {"username": "a", "passwordSecretVersion": "hub"}}],
        notifications=[{"name": "x", "url": HOOK_URL, "maxDeliveryAttempts": 2}],
        colour="blue",
    )
    found = problems(config)
    root = "registries:artifactRegistry"
    expected = {
        f"{root}.project": "'Acme'",
        f"{root}.location": "'mars-north'",
        f"{root}.gcrDomains[1]": "'cn.gcr.io'",
        f"{root}.repositories[0].name": "'Apps'",
        f"{root}.repositories[0].labels": "{'Team': 'x'}",
        f"{root}.repositories[0].readers[0]": "'bob@acme.com'",
        f"{root}.repositories[1].kmsKeyName": "'alias/foo'",
        f"{root}.repositories[1].retention.untaggedDays": "0",
        f"{root}.mirrors[0].upstream": "'quay'",
        f"{root}.mirrors[0].credentials.passwordSecretVersion": "'hub'",
        f"{root}.notifications[0].name": "'x'",
        f"{root}.notifications[0].maxDeliveryAttempts": "2",
        f"{root}.colour": "'blue'",
    }
    assert set(found) == set(expected), found
    for path, value in expected.items():
        assert found[path].endswith(f"(got {value})"), (path, found[path])
    assert "user:<email>" in found[f"{root}.repositories[0].readers[0]"]
    assert "europe-west1" in found[f"{root}.location"]


def test_retention_artifact_registry_cannot_express_is_refused_naming_the_rule():
    config = ar_config(
        defaults={"retention": {"keepLatest": [{"tag": "release-*", "count": 5}], "taggedDays": 30}},
        repositories=[{"name": "apps", "retention": {"protect": ["*-stable"], "taggedDays": 90}}],
    )
    found = problems(config)
    root = "registries:artifactRegistry"
    assert "newest N" in found[f"{root}.defaults.retention.keepLatest[0]"]
    assert "PREFIX*" in found[f"{root}.repositories[0].retention.protect[0]"]
    assert all("Artifact Registry cannot express it" in text for text in found.values())


def test_cross_key_rules_names_refs_keys_and_public_writers():
    config = ar_config(
        defaults={"writers": ["allUsers"]},
        repositories=[
            {"name": "apps", "kmsKeyName": "projects/acme-prod-1/locations/us/keyRings/r/cryptoKeys/k"},
            {"name": "dockerhub"},
        ],
        virtual=[
            {
                "name": "all",
                "upstreams": [{"repository": "nope", "priority": 1}, {"repository": "apps", "priority": 1}],
            }
        ],
        notifications=[
            {"name": "deploy", "url": "https://hooks.example.com/no-token"},
            {"name": "deploy", "url": "http://hooks.example.com/x?token=1"},
        ],
    )
    found = problems(config)
    root = "registries:artifactRegistry"
    assert "repeats a repository name" in found[f"{root}.mirrors[0].name"]
    assert "location 'europe-west1'" in found[f"{root}.repositories[0].kmsKeyName"]
    assert "anyone could push" in found[f"{root}.repositories[0].writers[0]"]
    assert "anyone could push" in found[f"{root}.defaults (inherited by gcr.io).writers[0]"]
    assert "declared repositories or mirrors" in found[f"{root}.virtual[0].upstreams[0].repository"]
    assert "repeats a priority" in found[f"{root}.virtual[0].upstreams[1].priority"]
    assert "query string" in found[f"{root}.notifications[0].url"]
    assert "https://" in found[f"{root}.notifications[1].url"]
    assert "repeats a name" in found[f"{root}.notifications[1].name"]
    # The hook URLs carry tokens: never echoed.
    assert all("s3cr3t" not in text and "no-token" not in text for text in found.values())


def test_a_gcr_domain_inherits_a_key_outside_its_multi_region_and_is_named():
    config = ar_config(defaults={"kmsKeyName": "projects/acme-prod-1/locations/europe-west1/keyRings/r/cryptoKeys/k"})
    found = problems(config)
    root = "registries:artifactRegistry"
    assert set(found) == {
        f"{root}.defaults (inherited by gcr.io).kmsKeyName",
        f"{root}.defaults (inherited by eu.gcr.io).kmsKeyName",
    }
    assert "'us'" in found[f"{root}.defaults (inherited by gcr.io).kmsKeyName"]


def test_nothing_declared_is_refused():
    found = problems({"project": "acme-prod-1", "location": "us"})
    assert "declare at least one of" in found["registries:artifactRegistry"]


def test_notifications_only_and_http_to_loopback_are_allowed():
    spec = load_stack_spec(
        {
            "artifactRegistry": {
                "project": "acme-prod-1",
                "location": "us",
                "notifications": [{"name": "local", "url": "http://127.0.0.1:8080/hook?token=1"}],
            }
        },
        "dev",
    ).artifact_registry
    assert spec is not None
    assert spec.notifications[0].name == "local"


def test_github_refs_that_match_everything_are_refused():
    config = ar_config(ci={"githubOidc": {"repository": "acme/app", "refs": ["refs/heads/*"]}})
    found = problems(config)
    assert "matches every branch" in found["registries:artifactRegistry.ci.githubOidc.refs"]


def test_hook_urls_in_plain_text_are_named_never_shown():
    stack = load_stack_spec({"artifactRegistry": AR}, "dev")
    found = plain_secret_problems(stack, lambda key: False)
    assert [p.path for p in found] == ["registries:artifactRegistry.notifications[0].url"]
    assert "s3cr3t" not in str(found[0])
    assert plain_secret_problems(stack, lambda key: key == "artifactRegistry") == []


def test_tagged_days_on_a_repository_with_immutable_tags_is_refused_naming_the_key():
    # Immutable tags cannot be deleted: a DELETE TAGGED cleanup policy there would never delete what it promises.
    root = "registries:artifactRegistry"
    prod = problems(AR, stack="prod")  # defaults.retention.taggedDays 90; prod repositories are immutable by default
    assert set(prod) == {
        f"{root}.defaults (inherited by apps).retention.taggedDays",
        f"{root}.defaults (inherited by gcr.io).retention.taggedDays",
        f"{root}.defaults (inherited by eu.gcr.io).retention.taggedDays",
    }
    text = prod[f"{root}.defaults (inherited by apps).retention.taggedDays"]
    assert "immutable tags (the default on prod stacks)" in text
    assert "immutableTags: false" in text
    assert text.endswith("(got 90)")
    dev = problems(
        ar_config(
            defaults={},
            gcrDomains=[],
            repositories=[{"name": "apps", "immutableTags": True, "retention": {"untaggedDays": 7, "taggedDays": 30}}],
            virtual=[],
        )
    )
    assert set(dev) == {f"{root}.repositories[0].retention.taggedDays"}
    assert (
        "repository apps has immutable tags (immutableTags: true)"
        in dev[f"{root}.repositories[0].retention.taggedDays"]
    )
    # Mutable repositories keep their taggedDays, also on prod (the example's scratch repository).
    load_stack_spec(
        {"artifactRegistry": ar_config(defaults={"immutableTags": False, "retention": {"taggedDays": 9}})}, "prod"
    )
