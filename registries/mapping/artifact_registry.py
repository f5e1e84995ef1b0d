"""registries:artifactRegistry config -> ArtifactRegistryArgs (defaults inherited, gcr.io domains placed in their
multi-regions, the prod rule for immutable tags applied, secrets wrapped)."""

from __future__ import annotations

import pulumi

from components.artifact_registry import (
    ArtifactRegistryArgs,
    ArtifactRegistryCiArgs,
    ArtifactRegistryMirrorArgs,
    ArtifactRegistryNotificationArgs,
    ArtifactRegistryRepositoryArgs,
    ArtifactRegistryVirtualArgs,
)
from components.retention.args import retention_args
from registries.config.artifact_registry import (
    GCR_DOMAIN_LOCATIONS,
    ArtifactRegistryRepositorySettings,
    ArtifactRegistrySpec,
    retention_intent,
)


def _repository_args(
    name: str, settings: ArtifactRegistryRepositorySettings, production: bool, location: str | None, description: str
) -> ArtifactRegistryRepositoryArgs:
    args = ArtifactRegistryRepositoryArgs(
        name=name,
        # Safe default: immutable tags on prod stacks (a pushed release cannot be moved), mutable elsewhere.
        immutable_tags=settings.immutable_tags if settings.immutable_tags is not None else production,
        vulnerability_scanning=settings.vulnerability_scanning,
        readers=list(settings.readers),
        writers=list(settings.writers),
        labels=dict(settings.labels),
        protect=production,
    )
    if location is not None:
        args["location"] = location
    if description:
        args["description"] = description
    if settings.kms_key_name is not None:
        args["kms_key_name"] = settings.kms_key_name
    intent = retention_intent(settings.retention)
    if intent is not None:
        args["retention"] = retention_args(intent)
    return args


def artifact_registry_args(spec: ArtifactRegistrySpec, production: bool) -> ArtifactRegistryArgs:
    """Map the validated `registries:artifactRegistry` config to the component's args."""
    repositories = [
        _repository_args(repo.name, spec.effective(repo), production, None, repo.description)
        for repo in spec.repositories
    ]
    repositories += [
        _repository_args(
            domain, spec.defaults, production, GCR_DOMAIN_LOCATIONS[domain], f"Container Registry path {domain}"
        )
        for domain in spec.gcr_domains
    ]
    mirrors: list[ArtifactRegistryMirrorArgs] = []
    for mirror in spec.mirrors:
        mirror_args = ArtifactRegistryMirrorArgs(
            name=mirror.name, readers=list(mirror.readers), labels=dict(mirror.labels)
        )
        if mirror.description:
            mirror_args["description"] = mirror.description
        if mirror.credentials is not None:
            mirror_args["username"] = mirror.credentials.username
            mirror_args["password_secret_version"] = mirror.credentials.password_secret_version
        intent = retention_intent(mirror.retention)
        if intent is not None:
            mirror_args["retention"] = retention_args(intent)
        mirrors.append(mirror_args)
    virtual: list[ArtifactRegistryVirtualArgs] = []
    for repo in spec.virtual:
        virtual_args = ArtifactRegistryVirtualArgs(
            name=repo.name,
            upstreams=[{"repository": u.repository, "priority": u.priority} for u in repo.upstreams],
            readers=list(repo.readers),
            labels=dict(repo.labels),
        )
        if repo.description:
            virtual_args["description"] = repo.description
        virtual.append(virtual_args)
    notifications: list[ArtifactRegistryNotificationArgs] = []
    for hook in spec.notifications:
        hook_args = ArtifactRegistryNotificationArgs(
            name=hook.name,
            url=pulumi.Output.secret(hook.url.get_secret_value()),
            max_delivery_attempts=hook.max_delivery_attempts,
        )
        if hook.oidc is not None:
            hook_args["oidc_service_account_email"] = hook.oidc.service_account_email
            if hook.oidc.audience is not None:
                hook_args["oidc_audience"] = hook.oidc.audience
        notifications.append(hook_args)
    args = ArtifactRegistryArgs(
        project=spec.project,
        location=spec.location,
        repositories=repositories,
        mirrors=mirrors,
        virtual=virtual,
        cleanup_dry_run=spec.cleanup_dry_run,
        notifications=notifications,
        create_gcr_topic=spec.create_gcr_topic,
    )
    if spec.project_number is not None:
        args["project_number"] = spec.project_number
    if spec.ci is not None:
        ci = ArtifactRegistryCiArgs(service_account_id=spec.ci.service_account_id)
        github = spec.ci.github_oidc
        if github is not None:
            ci["github_oidc"] = {"repository": github.repository, "refs": list(github.refs), "pool_id": github.pool_id}
        args["ci"] = ci
    if spec.signing is not None:  # the stack signs images here: retention must keep their signatures
        args["signed_images"] = True
    return args
