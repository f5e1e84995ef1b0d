"""`registries:acr`: one ConfigError naming every bad key (value and what is allowed) before any resource."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from registries.config import ConfigError, load_stack_spec, plain_secret_problems
from tests.unit.conftest import problem_at

ROOT = "registries:acr"
HUB_USER = "https://acme-kv.vault.azure.net/secrets/dockerhub-user"
HUB_TOKEN = "https://acme-kv.vault.azure.net/secrets/dockerhub-token"
VAULT_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-secrets/providers/"
    "Microsoft.KeyVault/vaults/acme-kv"
)
PULL_PRINCIPAL = "11111111-2222-3333-4444-555555555555"
HOOK_URL = "https://hooks.example.com/acr?token=hook-secret-in-url"
HOOK_HEADER = "Bearer header-secret-value"

ACR: dict[str, Any] = {
    "resourceGroup": {"name": "rg-registries", "create": True, "location": "westeurope"},
    "name": "acmeregistry01",
    "sku": "Premium",
    "zoneRedundancy": True,
    "geoReplications": [{"location": "northeurope"}],
    "untaggedRetentionDays": 30,
    "retention": {"untaggedDays": 7, "taggedDays": 180},
    "purge": {"schedule": "0 4 * * Sun", "dryRun": True, "timeout": 1800},
    "repositories": [
        {"name": "team/api"},
        {"name": "team/worker", "retention": {"untaggedDays": 1}},
        {"name": "team/docs.site", "retention": {}},
    ],
    "scopeMaps": [
        {
            "name": "team-push",
            "description": "CI pushes",
            "repositories": [{"repository": "team/*", "actions": ["content/read", "content/write"]}],
        }
    ],
    "tokens": [
        {
            "name": "ci-push",
            "scopeMap": "team-push",
            "passwords": [{"name": "password1", "expiry": "2027-06-30T00:00:00Z"}, {"name": "password2"}],
        },
        {"name": "ci-disabled", "scopeMap": "team-push", "enabled": False},
    ],
    "webhooks": [
        {
            "name": "deployhook",
            "url": HOOK_URL,
            "actions": ["push", "delete"],
            "scope": "team/api:*",
            "customHeaders": [{"name": "Authorization", "secret": HOOK_HEADER}],
        }
    ],
    "credentialSets": [
        {
            "name": "dockerhub",
            "loginServer": "docker.io",
            "usernameSecretUri": HUB_USER,
            "passwordSecretUri": HUB_TOKEN,
            "keyVaultId": VAULT_ID,
        }
    ],
    "cacheRules": [
        {
            "name": "hub-library",
            "source": "docker.io/library/*",
            "target": "hub/library/*",
            "credentialSet": "dockerhub",
        },
        {"name": "k8s-pause", "source": "registry.k8s.io/pause", "target": "k8s/pause"},
    ],
    "roleAssignments": [
        {"principalId": PULL_PRINCIPAL, "role": "AcrPull"},
        {"principalId": "66666666-7777-8888-9999-000000000000", "role": "AcrPush", "principalType": "Group"},
    ],
}


def acr_config(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(ACR)
    config.update(changes)
    return config


def invalid(config: dict[str, Any], stack: str = "dev") -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_stack_spec({"acr": config}, stack)
    return caught.value


def test_a_full_config_is_accepted_with_its_values():
    spec = load_stack_spec({"acr": ACR}, "dev").acr
    assert spec is not None
    assert spec.sku == "Premium"
    assert spec.tokens[0].passwords[1].name == "password2"
    assert spec.webhooks[0].url.get_secret_value() == HOOK_URL
    worker = spec.repositories[1]
    assert spec.effective_retention(worker) is not None
    assert spec.effective_retention(spec.repositories[2]) is None  # {} turns retention off for that repository


def test_safe_defaults():
    spec = load_stack_spec({"acr": {"resourceGroup": {"name": "rg"}, "name": "acme12345", "sku": "Basic"}}, "dev").acr
    assert spec is not None
    assert spec.admin_user is False
    assert spec.public_network_access is True
    assert spec.zone_redundancy is False
    assert spec.untagged_retention_days is None
    assert spec.purge.dry_run is False
    assert spec.purge.schedule == "0 3 * * *"
    token = load_stack_spec({"acr": ACR}, "dev").acr.tokens[1]  # type: ignore[union-attr]
    assert [p.name for p in token.passwords] == ["password1"]


def test_every_bad_key_is_named_in_one_error_with_its_value_and_what_is_allowed():
    config = acr_config(
        name="acme-registry",
        sku="Ultra",
        resourceGroup={"name": "rg.", "location": "westeurope"},
        geoReplications=[{"location": "West Europe"}],
        purge={"schedule": "daily"},
        repositories=[{"name": "Team/API"}],
        scopeMaps=[{"name": "sm", "repositories": [{"repository": "team/api", "actions": ["pull"]}]}],
        tokens=[{"name": "ci_push", "scopeMap": "team-push", "passwords": [{"name": "password3"}]}],
        webhooks=[{"name": "deploy-hook", "url": HOOK_URL, "actions": ["chart_push"]}],
        credentialSets=[
            {
                "name": "dockerhub",
                "loginServer": "docker.io",
                "usernameSecretUri": "kv://user",
                "passwordSecretUri": HUB_TOKEN,
            }
        ],
        roleAssignments=[{"principalId": "not-a-guid", "role": "Owner"}],
        unknownKey=1,
    )
    error = invalid(config)
    expected = {
        f"{ROOT}.name": ("'acme-registry'", "5-50 letters or digits"),
        f"{ROOT}.sku": ("'Ultra'", "'Basic', 'Standard' or 'Premium'"),
        f"{ROOT}.resourceGroup.name": ("'rg.'", "not ending in a period"),
        f"{ROOT}.geoReplications[0].location": ("'West Europe'", "Azure region name"),
        f"{ROOT}.purge.schedule": ("'daily'", "5-field cron"),
        f"{ROOT}.repositories[0].name": ("'Team/API'", "lowercase"),
        f"{ROOT}.scopeMaps[0].name": ("'sm'", "5-50 letters, digits, - or _"),
        f"{ROOT}.scopeMaps[0].repositories[0].actions[0]": ("'pull'", "content/read"),
        f"{ROOT}.tokens[0].name": ("'ci_push'", "5-50 letters, digits or -"),
        f"{ROOT}.tokens[0].passwords[0].name": ("'password3'", "'password1' or 'password2'"),
        f"{ROOT}.webhooks[0].name": ("'deploy-hook'", "5-50 letters or digits"),
        f"{ROOT}.webhooks[0].actions[0]": ("'chart_push'", "'push', 'delete' or 'quarantine'"),
        f"{ROOT}.credentialSets[0].usernameSecretUri": ("'kv://user'", "Key Vault secret URI"),
        f"{ROOT}.roleAssignments[0].principalId": ("'not-a-guid'", "GUID"),
        f"{ROOT}.roleAssignments[0].role": ("'Owner'", "'AcrPull', 'AcrPush' or 'AcrDelete'"),
        f"{ROOT}.unknownKey": ("1", "unknown key"),
    }
    for path, (value, allowed) in expected.items():
        problem = problem_at(error, path)
        assert problem.value == value, path
        assert allowed in problem.allowed, (path, problem.allowed)
    assert HOOK_URL not in str(error)


def test_resource_group_location_goes_with_create():
    created = problem_at(invalid(acr_config(resourceGroup={"name": "rg", "create": True})), f"{ROOT}.resourceGroup")
    assert "create: true needs location" in created.allowed
    existing = invalid(acr_config(resourceGroup={"name": "rg", "location": "westeurope"}))
    assert "only used with create: true" in problem_at(existing, f"{ROOT}.resourceGroup").allowed


def test_premium_only_features_are_refused_on_other_tiers_naming_each_feature():
    error = invalid(acr_config(sku="Standard", publicNetworkAccess=False))
    for key in ("geoReplications", "zoneRedundancy", "publicNetworkAccess", "untaggedRetentionDays"):
        assert "needs sku: Premium (sku is Standard)" in problem_at(error, f"{ROOT}.{key}").allowed
    # The artifact cache is not Premium-only (Microsoft docs; unlike the Terraform AVM's precondition).
    assert not any("cacheRules" in p.path or "credentialSets" in p.path for p in error.problems)


def test_webhook_limit_per_tier():
    hooks = [{"name": f"hook{i}abc", "url": HOOK_URL, "actions": ["push"]} for i in range(3)]
    plain = acr_config(sku="Basic", webhooks=hooks, geoReplications=[], zoneRedundancy=False,
                       untaggedRetentionDays=None)  # fmt: skip
    problem = problem_at(invalid(plain), f"{ROOT}.webhooks")
    assert problem.value == "3 webhooks"
    assert "sku Basic allows at most 2" in problem.allowed
    assert load_stack_spec({"acr": {**plain, "sku": "Standard"}}, "dev").acr is not None


def test_admin_user_is_refused_on_production_stacks_only():
    problem = problem_at(invalid(acr_config(adminUser=True), stack="prod-eu"), f"{ROOT}.adminUser")
    assert "production stack 'prod-eu'" in problem.allowed
    assert load_stack_spec({"acr": acr_config(adminUser=True)}, "dev").acr is not None


def test_immutable_tags_are_refused_saying_acr_has_no_declarative_lock():
    config = acr_config(repositories=[{"name": "team/api", "immutableTags": True}])
    problem = problem_at(invalid(config), f"{ROOT}.repositories[0].immutableTags")
    assert "write-enabled" in problem.allowed
    assert "no declarative" in problem.allowed


def test_retention_acr_cannot_express_is_refused_naming_the_rule():
    config = acr_config(
        retention={"protect": ["latest"], "untaggedDays": 7, "taggedDays": 30},
        repositories=[{"name": "team/api", "retention": {"keepLatest": [{"tag": "v*", "count": 3}]}},
                      {"name": "team/worker", "retention": {"untaggedDays": 30, "taggedDays": 10}}],
    )  # fmt: skip
    error = invalid(config)
    assert "ACR cannot express it" in problem_at(error, f"{ROOT}.retention.protect[0]").allowed
    assert "keeps the newest N tags" in problem_at(error, f"{ROOT}.repositories[0].retention.keepLatest[0]").allowed
    assert "untaggedDays <= taggedDays" in problem_at(error, f"{ROOT}.repositories[1].retention.taggedDays").allowed


def test_references_between_lists_and_duplicates():
    config = acr_config(
        geoReplications=[{"location": "westeurope"}, {"location": "northeurope"}, {"location": "northeurope"}],
        repositories=[{"name": "team/api"}, {"name": "team/api"}],
        tokens=[{"name": "ci-push", "scopeMap": "missing-map",
                 "passwords": [{"name": "password1"}, {"name": "password1"}]}],
        webhooks=[{"name": "deployhook", "url": "http://plain.example.com", "actions": ["push"],
                   "customHeaders": [{"name": "X-Token", "secret": "a"}, {"name": "x-token", "secret": "b"}]}],
        cacheRules=[
            {"name": "hub-nginx", "source": "docker.io/library/nginx", "target": "hub/nginx"},
            {"name": "hub-redis", "source": "docker.io/library/redis", "target": "hub/nginx", "credentialSet": "nope"},
            {"name": "quay-all", "source": "quay.io/org/*", "target": "quay/org", "credentialSet": "dockerhub"},
            {"name": "elsewhere", "source": "example.com/x/y", "target": "x/y"},
        ],
        roleAssignments=[{"principalId": PULL_PRINCIPAL, "role": "AcrPull"},
                         {"principalId": PULL_PRINCIPAL.upper(), "role": "AcrPull"}],
    )  # fmt: skip
    error = invalid(config)
    assert "own region" in problem_at(error, f"{ROOT}.geoReplications[0].location").allowed
    assert "repeats a region" in problem_at(error, f"{ROOT}.geoReplications[2].location").allowed
    assert "repeats a name" in problem_at(error, f"{ROOT}.repositories[1].name").allowed
    assert "declared scopeMaps" in problem_at(error, f"{ROOT}.tokens[0].scopeMap").allowed
    assert "repeats a password slot" in problem_at(error, f"{ROOT}.tokens[0].passwords[1].name").allowed
    url = problem_at(error, f"{ROOT}.webhooks[0].url")
    assert url.value == "a secret value (not shown)"
    assert "https://" in url.allowed
    assert "repeats a header" in problem_at(error, f"{ROOT}.webhooks[0].customHeaders[1].name").allowed
    assert "required for docker.io" in problem_at(error, f"{ROOT}.cacheRules[0].credentialSet").allowed
    assert "declared credentialSets" in problem_at(error, f"{ROOT}.cacheRules[1].credentialSet").allowed
    assert "repeats a target" in problem_at(error, f"{ROOT}.cacheRules[1].target").allowed
    assert "logs in to docker.io, not to quay.io" in problem_at(error, f"{ROOT}.cacheRules[2].credentialSet").allowed
    assert "end in /*" in problem_at(error, f"{ROOT}.cacheRules[2].target").allowed
    assert "upstream must be one of" in problem_at(error, f"{ROOT}.cacheRules[3].source").allowed
    assert "repeats a principal" in problem_at(error, f"{ROOT}.roleAssignments[1]").allowed


def test_retention_needs_declared_repositories():
    problem = problem_at(invalid(acr_config(repositories=[])), f"{ROOT}.repositories")
    assert "declare repositories" in problem.allowed


def test_secret_values_are_never_shown_even_when_of_the_wrong_type():
    config = acr_config(webhooks=[{"name": "deployhook", "url": 12345678, "actions": ["push"],
                                   "customHeaders": [{"name": "Authorization", "secret": 987654321}]}])  # fmt: skip
    error = invalid(config)
    assert problem_at(error, f"{ROOT}.webhooks[0].url").value == "a secret value (not shown)"
    assert problem_at(error, f"{ROOT}.webhooks[0].customHeaders[0].secret").value == "a secret value (not shown)"
    assert "12345678" not in str(error)
    assert "987654321" not in str(error)


def test_webhook_secrets_in_a_plain_config_are_named_not_shown():
    stack = load_stack_spec({"acr": ACR}, "dev")
    problems = plain_secret_problems(stack, lambda key: False)
    assert [p.path for p in problems] == [f"{ROOT}.webhooks[0].url", f"{ROOT}.webhooks[0].customHeaders[0].secret"]
    assert all(HOOK_URL not in str(p) and HOOK_HEADER not in str(p) for p in problems)
    assert plain_secret_problems(stack, lambda key: key == "acr") == []
