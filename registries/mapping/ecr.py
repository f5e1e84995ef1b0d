"""registries:ecr config -> EcrRegistryArgs (the mapping layer between the validated spec and the component)."""

from __future__ import annotations

import json

import pulumi

from components.ecr import (
    EcrCachedRepositoryArgs,
    EcrEncryptionType,
    EcrEventKind,
    EcrGithubOidcArgs,
    EcrNotificationArgs,
    EcrPullThroughCacheArgs,
    EcrRegistryArgs,
    EcrRegistrySettingsArgs,
    EcrReplicationDestinationArgs,
    EcrReplicationRuleArgs,
    EcrRepositoryArgs,
    EcrScanType,
)
from components.retention.args import retention_args
from registries.config.ecr import PTC_UPSTREAMS, EcrRepositorySettings, EcrSpec, retention_intent


def _storage_args(settings: EcrRepositorySettings) -> EcrCachedRepositoryArgs:
    """What a repository and the pull-through cache's creation template share: tags, encryption, retention."""
    args: EcrCachedRepositoryArgs = {
        "immutable_tags": settings.immutable_tags,
        "mutable_tags": list(settings.mutable_tags),
        "encryption_type": EcrEncryptionType.KMS if settings.encryption.kind == "kms" else EcrEncryptionType.AES256,
    }
    if settings.encryption.kms_key_id is not None:
        args["kms_key"] = settings.encryption.kms_key_id
    if (intent := retention_intent(settings)) is not None:
        args["retention"] = retention_args(intent)
    return args


def _ecr_repository_args(name: str, settings: EcrRepositorySettings, production: bool) -> EcrRepositoryArgs:
    return {
        "name": name,
        **_storage_args(settings),
        "scan_on_push": settings.scan_on_push,
        "readers": list(settings.readers),
        "writers": list(settings.writers),
        "lambda_readers": settings.lambda_readers,
        "force_delete": settings.force_delete,
        "protect": production,
    }


def _ecr_registry_settings(spec: EcrSpec) -> EcrRegistrySettingsArgs:
    caches: list[EcrPullThroughCacheArgs] = []
    for rule in spec.pull_through_cache:
        cache: EcrPullThroughCacheArgs = {"prefix": rule.prefix, "upstream_url": PTC_UPSTREAMS[rule.upstream][0]}
        if rule.credentials is not None:
            login = {"username": rule.credentials.username, "accessToken": rule.credentials.token.get_secret_value()}
            cache["credentials"] = pulumi.Output.secret(json.dumps(login))
        caches.append(cache)
    settings: EcrRegistrySettingsArgs = {
        "replication": [
            EcrReplicationRuleArgs(
                destinations=[_destination(d.region, d.registry_id) for d in rule.destinations],
                prefixes=list(rule.filters),
            )
            for rule in spec.replication
        ],
        "replication_sources": [
            {"account_id": source.account, "prefixes": list(source.prefixes)} for source in spec.replication_sources
        ],
        "pull_through_cache": caches,
        "cached_repositories": _storage_args(spec.defaults),
    }
    if spec.scanning is not None:
        settings["scan_type"] = EcrScanType(spec.scanning.type)
        settings["continuous_scan"] = list(spec.scanning.continuous)
        settings["scan_on_push"] = list(spec.scanning.on_push)
    return settings


def _destination(region: str, registry_id: str | None) -> EcrReplicationDestinationArgs:
    destination: EcrReplicationDestinationArgs = {"region": region}
    if registry_id is not None:
        destination["registry_id"] = registry_id
    return destination


def ecr_args(spec: EcrSpec, production: bool) -> EcrRegistryArgs:
    """Map the validated `registries:ecr` config (defaults inherited) to the component's args."""
    args: EcrRegistryArgs = {
        "region": spec.region,
        "repositories": [
            _ecr_repository_args(repo.name, spec.effective(repo), production) for repo in spec.repositories
        ],
        "notifications": [
            EcrNotificationArgs(
                name=hook.name,
                url=pulumi.Output.secret(hook.url.get_secret_value()),
                auth_header_name=hook.auth_header.name,
                auth_header_value=pulumi.Output.secret(hook.auth_header.token.get_secret_value()),
                events=[EcrEventKind(event) for event in hook.events],
                repositories=list(hook.repositories),
            )
            for hook in spec.notifications
        ],
    }
    if spec.manage_registry_settings:
        args["registry_settings"] = _ecr_registry_settings(spec)
    if (github := spec.ci.github_oidc) is not None:
        args["github_oidc"] = EcrGithubOidcArgs(
            repository=github.repository, refs=list(github.refs), create_provider=github.create_provider
        )
    if spec.signing is not None:  # the stack signs images here: retention must keep their signatures
        args["signed_images"] = True
    return args
