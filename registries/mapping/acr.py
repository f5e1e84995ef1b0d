"""registries:acr config -> AcrArgs (the mapping layer between the validated spec and the component)."""

from __future__ import annotations

import pulumi

from components.acr import (
    AcrArgs,
    AcrCacheRuleArgs,
    AcrCredentialSetArgs,
    AcrGeoReplicationArgs,
    AcrRepositoryArgs,
    AcrResourceGroupArgs,
    AcrRole,
    AcrScopeMapArgs,
    AcrSku,
    AcrTokenArgs,
    AcrTokenPasswordArgs,
    AcrWebhookAction,
    AcrWebhookArgs,
)
from components.retention.args import retention_args
from registries.config.acr import AcrCredentialSet, AcrSpec
from registries.config.retention import RetentionSpec


def acr_args(spec: AcrSpec, production: bool) -> AcrArgs:
    """Map the validated `registries:acr` config to the component's args (secrets wrapped as Pulumi secrets)."""
    group = AcrResourceGroupArgs(name=spec.resource_group.name, create=spec.resource_group.create)
    if spec.resource_group.location is not None:
        group["location"] = spec.resource_group.location
    args = AcrArgs(
        resource_group=group,
        name=spec.name,
        sku=AcrSku(spec.sku),
        admin_user_enabled=spec.admin_user,
        public_network_access=spec.public_network_access,
        zone_redundancy=spec.zone_redundancy,
        geo_replications=[
            AcrGeoReplicationArgs(
                location=r.location,
                regional_endpoint_enabled=r.regional_endpoint_enabled,
                zone_redundancy=r.zone_redundancy,
            )
            for r in spec.geo_replications
        ],
        purge={"schedule": spec.purge.schedule, "dry_run": spec.purge.dry_run, "timeout": spec.purge.timeout},
        repositories=[_repository(repo.name, repo.retention) for repo in spec.repositories],
        scope_maps=[
            AcrScopeMapArgs(
                name=m.name,
                description=m.description,
                repositories=[{"repository": r.repository, "actions": list(r.actions)} for r in m.repositories],
            )
            for m in spec.scope_maps
        ],
        tokens=[
            AcrTokenArgs(
                name=t.name,
                scope_map=t.scope_map,
                enabled=t.enabled,
                passwords=[_password(p.name, p.expiry) for p in t.passwords],
            )
            for t in spec.tokens
        ],
        webhooks=[
            AcrWebhookArgs(
                name=w.name,
                url=pulumi.Output.secret(w.url.get_secret_value()),
                actions=[AcrWebhookAction(a) for a in w.actions],
                scope=w.scope,
                enabled=w.enabled,
                custom_headers=[
                    {"name": h.name, "value": pulumi.Output.secret(h.secret.get_secret_value())}
                    for h in w.custom_headers
                ],
            )
            for w in spec.webhooks
        ],
        credential_sets=[_credential_set(c) for c in spec.credential_sets],
        cache_rules=[_cache_rule(r.name, r.source, r.target, r.credential_set) for r in spec.cache_rules],
        role_assignments=[
            {"principal_id": a.principal_id, "role": AcrRole(a.role), "principal_type": a.principal_type}
            for a in spec.role_assignments
        ],
        protect=production,
    )
    # A created group's region is the registry's default too (an existing group's is read by Azure).
    location = spec.location or spec.resource_group.location
    if location is not None:
        args["location"] = location
    if spec.untagged_retention_days is not None:
        args["untagged_retention_days"] = spec.untagged_retention_days
    if spec.retention is not None:
        args["retention"] = retention_args(spec.retention.intent())
    if spec.signing is not None:  # the stack signs images here: retention must keep their signatures
        args["signed_images"] = True
    return args


def _repository(name: str, retention: RetentionSpec | None) -> AcrRepositoryArgs:
    repository = AcrRepositoryArgs(name=name)
    if retention is not None:
        repository["retention"] = retention_args(retention.intent())
    return repository


def _password(name: str, expiry: str | None) -> AcrTokenPasswordArgs:
    password = AcrTokenPasswordArgs(name=name)
    if expiry is not None:
        password["expiry"] = expiry
    return password


def _credential_set(spec: AcrCredentialSet) -> AcrCredentialSetArgs:
    credential = AcrCredentialSetArgs(
        name=spec.name,
        login_server=spec.login_server,
        username_secret_uri=spec.username_secret_uri,
        password_secret_uri=spec.password_secret_uri,
    )
    if spec.key_vault_id is not None:
        credential["key_vault_id"] = spec.key_vault_id
    return credential


def _cache_rule(name: str, source: str, target: str, credential_set: str | None) -> AcrCacheRuleArgs:
    rule = AcrCacheRuleArgs(name=name, source=source, target=target)
    if credential_set is not None:
        rule["credential_set"] = credential_set
    return rule
