"""registries:ecr config -> EcrRegistryArgs (the mapping layer between the validated spec and the component)."""

from __future__ import annotations

import json

import pulumi

from components.ecr import (
    EcrRegistryArgs,
    EcrRepositoryArgs,
    GithubOidcRoleArgs,
    NotificationArgs,
    PullThroughCacheArgs,
    RegistrySettingsArgs,
    ReplicationDestinationArgs,
    ReplicationRuleArgs,
    ReplicationSourceArgs,
)
from registries.spec.ecr import PTC_UPSTREAMS, EcrRepositorySettings, EcrSpec, retention_intent


def _ecr_repository_args(name: str, settings: EcrRepositorySettings, production: bool) -> EcrRepositoryArgs:
    return EcrRepositoryArgs(
        name=name,
        immutable_tags=settings.immutable_tags,
        mutable_tags=tuple(settings.mutable_tags),
        scan_on_push=settings.scan_on_push,
        encryption_type="KMS" if settings.encryption.kind == "kms" else "AES256",
        kms_key=settings.encryption.kms_key_id,
        retention=retention_intent(settings),
        readers=tuple(settings.readers),
        writers=tuple(settings.writers),
        lambda_readers=settings.lambda_readers,
        force_delete=settings.force_delete,
        protect=production,
    )


def _ecr_registry_settings(spec: EcrSpec) -> RegistrySettingsArgs:
    caches = []
    for rule in spec.pull_through_cache:
        credentials = None
        if rule.credentials is not None:
            login = {"username": rule.credentials.username, "accessToken": rule.credentials.token.get_secret_value()}
            credentials = pulumi.Output.secret(json.dumps(login))
        caches.append(PullThroughCacheArgs(rule.prefix, PTC_UPSTREAMS[rule.upstream][0], credentials))
    return RegistrySettingsArgs(
        scan_type=spec.scanning.type if spec.scanning is not None else None,
        continuous_scan=tuple(spec.scanning.continuous) if spec.scanning is not None else (),
        scan_on_push=tuple(spec.scanning.on_push) if spec.scanning is not None else (),
        replication=tuple(
            ReplicationRuleArgs(
                destinations=tuple(ReplicationDestinationArgs(d.region, d.registry_id) for d in rule.destinations),
                prefixes=tuple(rule.filters),
            )
            for rule in spec.replication
        ),
        replication_sources=tuple(
            ReplicationSourceArgs(source.account, tuple(source.prefixes)) for source in spec.replication_sources
        ),
        pull_through_cache=tuple(caches),
        cached_repositories=_ecr_repository_args("pull-through-cache", spec.defaults, production=False),
    )


def ecr_args(spec: EcrSpec, production: bool) -> EcrRegistryArgs:
    """Map the validated `registries:ecr` config (defaults inherited) to the component's args."""
    repositories = tuple(
        _ecr_repository_args(repo.name, spec.effective(repo), production) for repo in spec.repositories
    )
    settings = _ecr_registry_settings(spec) if spec.manage_registry_settings else None
    notifications = tuple(
        NotificationArgs(
            name=hook.name,
            url=pulumi.Output.secret(hook.url.get_secret_value()),
            auth_header_name=hook.auth_header.name,
            auth_header_value=pulumi.Output.secret(hook.auth_header.token.get_secret_value()),
            events=tuple(hook.events),
            repositories=tuple(hook.repositories),
        )
        for hook in spec.notifications
    )
    github = spec.ci.github_oidc
    return EcrRegistryArgs(
        region=spec.region,
        repositories=repositories,
        registry_settings=settings,
        notifications=notifications,
        github_oidc=GithubOidcRoleArgs(github.repository, tuple(github.refs), github.create_provider)
        if github is not None
        else None,
    )
