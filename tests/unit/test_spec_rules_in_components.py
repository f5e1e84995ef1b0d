"""One rule, two places: library and component-provider users bypass the stack spec, so every rule of
registries/config/ that protects a cloud API call must also hold in the component's run-time checks.

The test walks every pydantic validator of the spec models (field and model validators, and the AfterValidators of
field types, list items included) and finds its entry in one table: the component check that holds the same rule,
a reason no counterpart is needed, or a gap still open (named, so it cannot be forgotten). A new validator without
an entry fails, and so does an entry whose validator is gone. Checks with a probe are run with a value the spec
refuses: the component must refuse it too (ValueError naming the arg).
"""

from __future__ import annotations

import importlib
import inspect
import re
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.functional_validators import AfterValidator

SPEC_MODULES = ("acr", "artifact_registry", "ecr", "kubernetes", "selfhosted", "dockerhub", "retention")


def _after_validators(annotation: Any, path: str) -> Iterator[tuple[str, Callable[..., Any]]]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        yield from ((path, m.func) for m in metadata if isinstance(m, AfterValidator))
        yield from _after_validators(base, path)
    elif origin is not None:
        for argument in typing.get_args(annotation):
            yield from _after_validators(argument, path if argument is type(None) else f"{path}[]")


def _label(function: Callable[..., Any]) -> str:
    return "pattern" if function.__qualname__.startswith("pattern.") else function.__name__


def spec_validators() -> set[str]:
    """`<module>.<Model>.<validator>` and `<module>.<Model>.<field>:<validator>` of every spec model."""
    found: set[str] = set()
    for name in SPEC_MODULES:
        module = importlib.import_module(f"registries.config.{name}")
        for model_name, model in vars(module).items():
            if not (inspect.isclass(model) and issubclass(model, BaseModel) and model.__module__ == module.__name__):
                continue
            decorators = model.__pydantic_decorators__
            found |= {f"{name}.{model_name}.{v}" for v in [*decorators.field_validators, *decorators.model_validators]}
            for field_name, field in model.model_fields.items():
                pairs = [(field_name, m.func) for m in field.metadata if isinstance(m, AfterValidator)]
                pairs += list(_after_validators(field.annotation, field_name))
                found |= {f"{name}.{model_name}.{path.replace('[][]', '[]')}:{_label(f)}" for path, f in pairs}
    return found


@dataclass(frozen=True)
class Check:
    """The component's run-time check holding the rule (`module:function`), and optionally a probe: a call that
    must raise ValueError matching `refused` (the component refuses what the spec refuses)."""

    where: str
    probe: Callable[[], Any] | None = None
    refused: str = ""


@dataclass(frozen=True)
class NotNeeded:
    """Why no run-time check is needed (nothing reaches a cloud API that the API would refuse or misread)."""

    reason: str


@dataclass(frozen=True)
class Gap:
    """A rule the component does not check yet: named so the report and this table say so."""

    reason: str


def _ar(**changes: Any) -> Any:
    from components.artifact_registry import _check

    return _check({"project": "acme-prod-1", "location": "europe-west1", **changes})  # type: ignore[typeddict-item]


def _acr(**changes: Any) -> Any:
    from components.acr import _check

    return _check({"resource_group": {"name": "rg"}, "name": "acme12345", "sku": "Premium", **changes})  # type: ignore[typeddict-item]


def _ecr(**changes: Any) -> Any:
    from components.ecr import _check

    return _check({"region": "eu-west-1", "repositories": [{"name": "team/api"}], **changes})  # type: ignore[typeddict-item]


def _k8s(**args: Any) -> Any:
    from components.kubernetes_registry import validate_kubernetes_args

    return validate_kubernetes_args(args)  # type: ignore[arg-type]


ACR_NAMES = "components.acr:_check_names"
AR_VALUES = "components.artifact_registry:_check_values"
ECR_VALUES = "components.ecr:_check_settings_values"
DEDUPED = NotNeeded("a repeated entry is harmless: the component declares each entry once (dict.fromkeys)")
REPEATS_ARE_HARMLESS = NotNeeded("a repeated value changes nothing the API receives (a set of filters or patterns)")

RULES: dict[str, Check | NotNeeded | Gap] = {
    # --- ACR (components/acr_names.py holds the patterns for both) ---
    "acr.AcrResourceGroup._location_with_create": Check(
        "components.acr:_check", lambda: _acr(resource_group={"name": "rg", "create": True}), "required with create"
    ),
    "acr.AcrResourceGroup.name:pattern": Check(
        ACR_NAMES, lambda: _acr(resource_group={"name": "rg."}), r"resource_group\.name: 'rg\.'"
    ),
    "acr.AcrResourceGroup.location[]:pattern": Check(
        ACR_NAMES, lambda: _acr(resource_group={"name": "rg", "location": "West Europe"}), "resource_group.location"
    ),
    "acr.AcrGeoReplication.location:pattern": Check(
        ACR_NAMES, lambda: _acr(geo_replications=[{"location": "EU"}]), r"geo_replications\[0\]\.location"
    ),
    "acr.AcrRepositorySpec.name:pattern": Check(
        ACR_NAMES, lambda: _acr(repositories=[{"name": "A"}]), r"repositories\[0\]\.name"
    ),
    "acr.AcrPurge.schedule:pattern": Check(ACR_NAMES, lambda: _acr(purge={"schedule": "@daily"}), "purge.schedule"),
    "acr.AcrScopeMapRepository.repository:pattern": Check(
        ACR_NAMES,
        lambda: _acr(scope_maps=[{"name": "pushers", "repositories": [{"repository": "A/*", "actions": []}]}]),
        r"repositories\[0\]\.repository",
    ),
    "acr.AcrScopeMapRepository.actions:unique": Check(
        ACR_NAMES,
        lambda: _acr(scope_maps=[{"name": "pushers", "repositories": [{"repository": "a", "actions": ["x", "x"]}]}]),
        "repeats an entry",
    ),
    "acr.AcrScopeMap.name:pattern": Check(
        ACR_NAMES, lambda: _acr(scope_maps=[{"name": "p", "repositories": []}]), r"scope_maps\[0\]\.name"
    ),
    "acr.AcrToken.name:pattern": Check(
        ACR_NAMES, lambda: _acr(tokens=[{"name": "t", "scope_map": "x"}]), r"tokens\[0\]\.name"
    ),
    "acr.AcrWebhookHeader.name:pattern": Check(
        ACR_NAMES,
        lambda: _acr(
            webhooks=[{"name": "hook1", "url": "u", "actions": ["push"], "custom_headers": [{"name": "A B"}]}]
        ),
        r"custom_headers\[0\]\.name",
    ),
    "acr.AcrWebhook.name:pattern": Check(
        ACR_NAMES, lambda: _acr(webhooks=[{"name": "h-1", "url": "u", "actions": ["push"]}]), r"webhooks\[0\]\.name"
    ),
    "acr.AcrWebhook.actions:unique": Check(
        ACR_NAMES,
        lambda: _acr(webhooks=[{"name": "hook1", "url": "u", "actions": ["push", "push"]}]),
        "repeats an entry",
    ),
    "acr.AcrCredentialSet.name:pattern": Check(
        ACR_NAMES,
        lambda: _acr(credential_sets=[{"name": "c", "username_secret_uri": "", "password_secret_uri": ""}]),
        r"credential_sets\[0\]\.name",
    ),
    "acr.AcrCredentialSet.username_secret_uri:pattern": Check(
        ACR_NAMES,
        lambda: _acr(credential_sets=[{"name": "creds", "username_secret_uri": "u", "password_secret_uri": "p"}]),
        "username_secret_uri: a secret value",
    ),
    "acr.AcrCredentialSet.password_secret_uri:pattern": Check(ACR_NAMES),  # same loop as username_secret_uri
    "acr.AcrCredentialSet.key_vault_id[]:pattern": Check(ACR_NAMES),
    "acr.AcrCacheRule.name:pattern": Check(
        ACR_NAMES, lambda: _acr(cache_rules=[{"name": "r", "source": "s", "target": "t"}]), r"cache_rules\[0\]\.name"
    ),
    "acr.AcrRoleAssignment.principal_id:pattern": Check(
        ACR_NAMES, lambda: _acr(role_assignments=[{"principal_id": "x", "role": "AcrPull"}]), "principal_id"
    ),
    "acr.AcrSpec.name:pattern": Check(ACR_NAMES, lambda: _acr(name="a-b"), r"AcrArgs\.name: 'a-b'"),
    "acr.AcrSpec.location[]:pattern": Check(ACR_NAMES, lambda: _acr(location="EU"), r"AcrArgs\.location: 'EU'"),
    # --- Artifact Registry ---
    "artifact_registry.ArtifactRegistrySpec.project:pattern": Check(
        "components.artifact_registry:_check", lambda: _ar(project="Acme", repositories=[{"name": "a"}]), "project"
    ),
    "artifact_registry.ArtifactRegistrySpec.location:pattern": Check(
        "components.artifact_registry:_check", lambda: _ar(location="mars", repositories=[{"name": "a"}]), "location"
    ),
    "artifact_registry.ArtifactRegistryRepositorySpec.name:pattern": Check(
        "components.artifact_registry:_check", lambda: _ar(repositories=[{"name": "A"}]), r"repositories\[0\]\.name"
    ),
    "artifact_registry.ArtifactRegistryMirror.name:pattern": Check(
        "components.artifact_registry:_check", lambda: _ar(mirrors=[{"name": "M"}]), r"mirrors\[0\]\.name"
    ),
    "artifact_registry.ArtifactRegistryVirtual.name:pattern": Check(
        "components.artifact_registry:_check",
        lambda: _ar(virtual=[{"name": "V", "upstreams": []}]),
        r"virtual\[0\]\.name",
    ),
    "artifact_registry.ArtifactRegistryVirtualUpstream.repository:pattern": Check(
        "components.artifact_registry:_check",
        lambda: _ar(repositories=[{"name": "a"}], virtual=[{"name": "v", "upstreams": [{"repository": "B"}]}]),
        r"upstreams\[0\]\.repository: 'B' is not a repository",
    ),
    "artifact_registry.ArtifactRegistrySpec.gcr_domains:unique": NotNeeded(
        "the component has no gcr_domains: the mapping turns each into one repository, and repeated repository names "
        "are refused by the component (`is declared twice`)"
    ),
    "artifact_registry.ArtifactRegistryRepositorySettings.readers:unique": DEDUPED,
    "artifact_registry.ArtifactRegistryRepositorySettings.writers:unique": DEDUPED,
    "artifact_registry.ArtifactRegistryRepositorySpec.readers[]:unique": DEDUPED,
    "artifact_registry.ArtifactRegistryRepositorySpec.writers[]:unique": DEDUPED,
    "artifact_registry.ArtifactRegistryMirror.readers:unique": DEDUPED,
    "artifact_registry.ArtifactRegistryVirtual.readers:unique": DEDUPED,
    "artifact_registry.ArtifactRegistryRepositorySettings.readers[]:pattern": Check(
        AR_VALUES, lambda: _ar(repositories=[{"name": "a", "readers": ["bob@acme.com"]}]), r"readers\[0\]: 'bob@acme"
    ),
    "artifact_registry.ArtifactRegistryRepositorySettings.writers[]:pattern": Check(
        AR_VALUES, lambda: _ar(repositories=[{"name": "a", "writers": ["ci"]}]), r"writers\[0\]: 'ci'"
    ),
    "artifact_registry.ArtifactRegistryRepositorySpec.readers[]:pattern": Check(AR_VALUES),  # the same loop
    "artifact_registry.ArtifactRegistryRepositorySpec.writers[]:pattern": Check(AR_VALUES),
    "artifact_registry.ArtifactRegistryMirror.readers[]:pattern": Check(
        AR_VALUES, lambda: _ar(mirrors=[{"name": "hub", "readers": ["x"]}]), r"mirrors\[0\]\.readers\[0\]"
    ),
    "artifact_registry.ArtifactRegistryVirtual.readers[]:pattern": Check(AR_VALUES),
    "artifact_registry.ArtifactRegistryRepositorySettings.labels:_labels": Check(
        AR_VALUES, lambda: _ar(repositories=[{"name": "a", "labels": {"Team": "x"}}]), r"labels: key 'Team'"
    ),
    "artifact_registry.ArtifactRegistryRepositorySpec.labels[]:_labels": Check(AR_VALUES),
    "artifact_registry.ArtifactRegistryMirror.labels:_labels": Check(
        AR_VALUES, lambda: _ar(mirrors=[{"name": "hub", "labels": {"a": "B"}}]), r"mirrors\[0\]\.labels: value 'B'"
    ),
    "artifact_registry.ArtifactRegistryVirtual.labels:_labels": Check(AR_VALUES),
    "artifact_registry.ArtifactRegistryRepositorySettings.kms_key_name[]:pattern": Check(
        AR_VALUES, lambda: _ar(repositories=[{"name": "a", "kms_key_name": "alias/x"}]), "kms_key_name: 'alias/x'"
    ),
    "artifact_registry.ArtifactRegistryRepositorySpec.kms_key_name[]:pattern": Check(AR_VALUES),
    "artifact_registry.ArtifactRegistryUpstreamCredentials.password_secret_version:pattern": Check(
        AR_VALUES,
        lambda: _ar(mirrors=[{"name": "hub", "username": "u", "password_secret_version": "hub-token"}]),
        "password_secret_version: 'hub-token'",
    ),
    "artifact_registry.ArtifactRegistryOidc.service_account_email:pattern": Check(
        AR_VALUES,
        lambda: _ar(notifications=[{"name": "hook", "url": "u", "oidc_service_account_email": "hooks"}]),
        "oidc_service_account_email: 'hooks'",
    ),
    "artifact_registry.ArtifactRegistryNotification.name:pattern": Check(
        AR_VALUES, lambda: _ar(notifications=[{"name": "H", "url": "u"}]), r"notifications\[0\]\.name: 'H'"
    ),
    "artifact_registry.ArtifactRegistryGithubOidc._refs": Check(
        AR_VALUES,
        lambda: _ar(repositories=[{"name": "a"}], ci={"github_oidc": {"repository": "o/r", "refs": ["refs/heads/*"]}}),
        r"refs\[0\]: 'refs/heads/\*' matches every branch",
    ),
    "artifact_registry.ArtifactRegistryGithubOidc.pool_id:pattern": Check(
        AR_VALUES,
        lambda: _ar(
            repositories=[{"name": "a"}],
            ci={"github_oidc": {"repository": "o/r", "refs": ["refs/heads/main"], "pool_id": "GH"}},
        ),
        "pool_id: 'GH'",
    ),
    "artifact_registry.ArtifactRegistryCi.service_account_id:pattern": Check(
        AR_VALUES, lambda: _ar(repositories=[{"name": "a"}], ci={"service_account_id": "ci"}), "service_account_id"
    ),
    "artifact_registry.ArtifactRegistrySpec.project_number[]:pattern": Check(
        AR_VALUES, lambda: _ar(repositories=[{"name": "a"}], project_number="acme"), "project_number: 'acme'"
    ),
    # --- ECR ---
    "ecr.EcrRepositorySpec.name:_check_repository_name": Check(
        "components.ecr:repository_name_problem",
        lambda: _ecr(repositories=[{"name": "Team/API"}]),
        r"repositories\[0\]\.name: 'Team/API'",
    ),
    "ecr.EcrEncryption._kms_key_only_with_kms": Check(
        "components.ecr:_storage_settings",
        lambda: _ecr(repositories=[{"name": "app", "kms_key": "k"}]),
        "kms_key: only allowed with encryption_type='KMS'",
    ),
    "ecr.EcrScanning._continuous_needs_enhanced": Check(
        "components.ecr:_check",
        lambda: _ecr(registry_settings={"scan_type": "BASIC", "continuous_scan": ["*"]}),
        "needs scan_type ENHANCED",
    ),
    "ecr.EcrReplicationSource.account:pattern": Check(
        "components.ecr:_check",
        lambda: _ecr(registry_settings={"replication_sources": [{"account_id": "12"}]}),
        "must be a 12-digit AWS account id",
    ),
    "ecr.EcrRepositorySettings.mutable_tags:unique": REPEATS_ARE_HARMLESS,
    "ecr.EcrRepositorySpec.mutable_tags[]:unique": REPEATS_ARE_HARMLESS,
    "ecr.EcrRepositorySettings.readers:unique": DEDUPED,
    "ecr.EcrRepositorySettings.writers:unique": DEDUPED,
    "ecr.EcrRepositorySpec.readers[]:unique": DEDUPED,
    "ecr.EcrRepositorySpec.writers[]:unique": DEDUPED,
    "ecr.EcrRepositorySettings.mutable_tags[]:_check_filter": Check(
        "components.ecr:_repository",
        lambda: _ecr(repositories=[{"name": "app", "mutable_tags": ["v*.*.*"]}]),
        r"mutable_tags\[0\]: 'v\*\.\*\.\*' may contain at most 2",
    ),
    "ecr.EcrRepositorySpec.mutable_tags[]:_check_filter": Check("components.ecr:_repository"),
    "ecr.EcrRepositorySettings.readers[]:_check_principal": Check(
        "components.ecr:_repository",
        lambda: _ecr(repositories=[{"name": "app", "readers": ["bob"]}]),
        r"readers\[0\]: 'bob' must be a 12-digit account id",
    ),
    "ecr.EcrRepositorySettings.writers[]:_check_principal": Check(
        "components.ecr:_repository",
        lambda: _ecr(repositories=[{"name": "app", "writers": ["arn:aws:iam::1:role/x"]}]),
        r"writers\[0\]",
    ),
    "ecr.EcrRepositorySpec.readers[]:_check_principal": Check("components.ecr:_repository"),
    "ecr.EcrRepositorySpec.writers[]:_check_principal": Check("components.ecr:_repository"),
    "ecr.EcrScanning.continuous[]:pattern": Check(
        ECR_VALUES,
        lambda: _ecr(registry_settings={"scan_type": "ENHANCED", "continuous_scan": ["Team/*"]}),
        r"continuous_scan\[0\]: 'Team/\*'",
    ),
    "ecr.EcrScanning.on_push[]:pattern": Check(
        ECR_VALUES, lambda: _ecr(registry_settings={"scan_on_push": ["A"]}), r"scan_on_push\[0\]: 'A'"
    ),
    "ecr.EcrReplicationDestination.region:_check_region": Check(
        ECR_VALUES,
        lambda: _ecr(registry_settings={"replication": [{"destinations": [{"region": "Frankfurt"}]}]}),
        r"destinations\[0\]\.region: 'Frankfurt'",
    ),
    "ecr.EcrReplicationRule.filters[]:pattern": Check(
        ECR_VALUES,
        lambda: _ecr(registry_settings={"replication": [{"destinations": [], "prefixes": ["Team/"]}]}),
        r"replication\[0\]\.prefixes\[0\]: 'Team/'",
    ),
    "ecr.EcrReplicationSource.prefixes[]:pattern": Check(
        ECR_VALUES,
        lambda: _ecr(registry_settings={"replication_sources": [{"account_id": "444455556666", "prefixes": ["*"]}]}),
        r"replication_sources\[0\]\.prefixes\[0\]: '\*'",
    ),
    "ecr.EcrPullThroughCache.prefix:pattern": Check(
        ECR_VALUES,
        lambda: _ecr(registry_settings={"pull_through_cache": [{"prefix": "Hub", "upstream_url": "u"}]}),
        r"pull_through_cache\[0\]\.prefix: 'Hub'",
    ),
    "ecr.EcrGithubOidc._refs": Check(
        ECR_VALUES,
        lambda: _ecr(github_oidc={"repository": "o/r", "refs": ["main"]}),
        r"github_oidc\.refs\[0\]: 'main' must be refs/heads",
    ),
    "ecr.EcrSpec.region:_check_region": Check(ECR_VALUES, lambda: _ecr(region="EU"), r"EcrRegistryArgs\.region: 'EU'"),
    "ecr.EcrSpec.account_id[]:pattern": NotNeeded(
        "spec-only: the stack's own account for the replication rules the spec checks; the component takes no "
        "account_id arg and reads its account from the repositories it creates (registry_id)"
    ),
    # --- self-hosted (Docker target: settings.validate_args; Kubernetes adds validate_kubernetes_args) ---
    "selfhosted.TlsSpec.ip_addresses[]:_ip": Gap("certificate IP SANs (tls.ip_addresses) are not parsed"),
    "selfhosted.UserSpec.password:_bcrypt_length": Gap("a given password longer than bcrypt's 72 bytes"),
    "selfhosted.S3StorageSpec.region_endpoint[]:_url": Gap("S3 region endpoint URL syntax"),
    "selfhosted.UiSpec.bind_address:_ip": Check("components.selfhosted.settings:_ip_address"),
    "selfhosted.UiSpec.title:_ui_title": Gap("UI title characters"),
    "selfhosted.NotificationEndpointSpec.url:_url": Check("components.selfhosted.settings:_url"),
    "selfhosted.MirrorSpec.upstream:_url": Check("components.selfhosted.settings:_url"),
    "selfhosted.TokenAuthSpec.realm:_realm": Check("components.selfhosted.settings:_url"),
    "selfhosted.TokenAuthSpec.root_cert_bundle:_certificate_bundle": Gap("PEM bundle syntax"),
    "selfhosted.SelfHostedSpec.bind_address:_ip": Check("components.selfhosted.settings:_ip_address"),
    # --- Docker Hub ---
    "dockerhub.WebhookSpec.url:_https_url": Check("components.dockerhub:_check_hook_url"),
    # --- retention (every component reads its retention args through components.retention.args) ---
    "retention.KeepLatestRule.tag:_check_pattern": Check(
        "components.retention.args:retention_intent",
        lambda: _ecr(repositories=[{"name": "app", "retention": {"keep_latest": [{"tag": "v?", "count": 1}]}}]),
        r"keepLatest\[0\]\.tag",
    ),
    "retention.RetentionSpec.protect[]:_check_pattern": Check("components.retention.args:retention_intent"),
    "retention.RetentionSpec._unique_protect": REPEATS_ARE_HARMLESS,
    "retention.RetentionSpec._unique_keep_latest": Gap("two keepLatest rules for one tag pattern"),
}
# Kubernetes: the Ingress host rule is not a pydantic validator (a cross-key rule of _platform_problems), probed here
# all the same because it protects the API server call.
EXTRA_PROBES = {
    "kubernetes Ingress host": Check(
        "components.kubernetes_names:ingress_host_problem", lambda: _k8s(hostname="10.0.0.5"), "not an IP address"
    ),
    "artifact_registry gcr.io location": Check(
        "components.artifact_registry:_check",
        lambda: _ar(repositories=[{"name": "eu.gcr.io", "location": "us"}]),
        r"only in 'europe'",
    ),
}


def test_every_spec_validator_has_its_component_check_or_a_reason():
    found = spec_validators()
    assert len(found) > 80  # the walk reaches nested list items and optional fields
    missing = sorted(found - set(RULES))
    assert not missing, f"spec validators without an entry in RULES (add the component check or a reason): {missing}"
    stale = sorted(set(RULES) - found)
    assert not stale, f"RULES entries whose validator is gone: {stale}"


@pytest.mark.parametrize("key", sorted(k for k, v in RULES.items() if isinstance(v, Check)))
def test_each_named_component_check_exists(key: str):
    module, function = RULES[key].where.split(":")  # type: ignore[union-attr]
    assert callable(getattr(importlib.import_module(module), function))


PROBED = {key: rule for key, rule in {**RULES, **EXTRA_PROBES}.items() if isinstance(rule, Check) and rule.probe}


@pytest.mark.parametrize("key", sorted(PROBED))
def test_the_component_refuses_what_the_spec_refuses(key: str):
    rule = PROBED[key]
    assert rule.probe is not None
    with pytest.raises(ValueError, match=rule.refused):
        rule.probe()


def test_the_open_gaps_are_listed():
    gaps = sorted(key for key, rule in RULES.items() if isinstance(rule, Gap))
    # The count only goes down: close a gap by adding the check (and a probe) and moving its entry to Check.
    assert len(gaps) <= 6, gaps


def test_the_gcr_locations_are_one_table():
    from components.artifact_registry import GCR_DOMAIN_LOCATIONS as COMPONENT
    from registries.config.artifact_registry import GCR_DOMAIN_LOCATIONS as SPEC

    assert COMPONENT == SPEC


def test_the_acr_name_rules_are_one_definition():
    import components.acr_names as names
    import registries.config.acr as spec

    for name in ("REGISTRY_NAME", "CHILD_NAME", "SCOPE_MAP_NAME", "LOCATION", "REPOSITORY_NAME", "KEY_VAULT_SECRET"):
        assert getattr(spec, name) is getattr(names, name)
    assert re.fullmatch(names.REGISTRY_NAME, "acme12345")
