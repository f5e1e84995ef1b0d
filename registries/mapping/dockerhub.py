"""registries:dockerHub config -> DockerHubArgs (the mapping layer between the validated spec and the component)."""

from __future__ import annotations

from pathlib import Path

import pulumi

from components.dockerhub import (
    DockerHubAccessTokenArgs,
    DockerHubArgs,
    DockerHubOrgAccessTokenArgs,
    DockerHubOrgTokenResourceType,
    DockerHubRepositoryArgs,
    DockerHubTeamArgs,
    DockerHubTeamPermission,
    DockerHubTokenScope,
)
from registries.config.dockerhub import DockerHubSpec, HubRepositorySpec


def _full_description(repo: HubRepositorySpec, base_dir: Path) -> str:
    """The long description: given as text, or the content of fullDescriptionFile (checked by the spec to be a
    file inside `base_dir`)."""
    if repo.full_description_file is not None:
        return (base_dir / repo.full_description_file).read_text(encoding="utf-8")
    return repo.full_description or ""


def repository_settings(repo: HubRepositorySpec, base_dir: Path) -> DockerHubRepositoryArgs:
    """A repository's args without protect and webhooks: the settings Hub holds, which `registryctl verify`
    compares with Hub (plain values only, usable outside a Pulumi program)."""
    args: DockerHubRepositoryArgs = {
        "name": repo.name,
        "description": repo.description,
        "full_description": _full_description(repo, base_dir),
        "private": repo.private,
        "immutable_tags": {"enabled": repo.immutable_tags.enabled, "rules": list(repo.immutable_tags.rules)},
    }
    if repo.namespace is not None:
        args["namespace"] = repo.namespace
    return args


def _repository_args(repo: HubRepositorySpec, protect: bool, base_dir: Path) -> DockerHubRepositoryArgs:
    return {
        **repository_settings(repo, base_dir),
        "protect": protect if repo.protect is None else repo.protect,
        "webhooks": [
            {"name": hook.name, "url": pulumi.Output.secret(hook.url.get_secret_value())} for hook in repo.webhooks
        ],
    }


def dockerhub_args(spec: DockerHubSpec, production: bool, base_dir: Path) -> DockerHubArgs:
    """Map the validated `registries:dockerHub` config to the component's args. `production` protects repositories
    without their own `protect`; `base_dir` is the directory fullDescriptionFile paths are relative to. Who logs in
    (dockerHub.username, the secret) is not mapped: it is the dynamic providers' configuration, never an input."""
    tokens: list[DockerHubAccessTokenArgs] = []
    for token in spec.access_tokens:
        token_args: DockerHubAccessTokenArgs = {
            "label": token.label,
            "scopes": [DockerHubTokenScope(scope) for scope in token.scopes],
            "active": token.active,
        }
        if token.expires_at is not None:
            token_args["expires_at"] = token.expires_at.isoformat()
        tokens.append(token_args)
    org_tokens: list[DockerHubOrgAccessTokenArgs] = []
    for org_token in spec.org_access_tokens:
        org_token_args: DockerHubOrgAccessTokenArgs = {
            "org": org_token.org,
            "label": org_token.label,
            "description": org_token.description,
            "resources": [
                {"type": DockerHubOrgTokenResourceType(r.type), "path": r.path, "scopes": list(r.scopes)}
                for r in org_token.resources
            ],
            "active": org_token.active,
        }
        if org_token.expires_at is not None:
            org_token_args["expires_at"] = org_token.expires_at.isoformat()
        org_tokens.append(org_token_args)
    teams: list[DockerHubTeamArgs] = [
        {
            "org": team.org,
            "name": team.name,
            "description": team.description,
            "permissions": [
                {"repository": grant.repository, "permission": DockerHubTeamPermission(grant.permission)}
                for grant in team.permissions
            ],
        }
        for team in spec.teams
    ]
    return {
        "namespace": spec.namespace,
        "base_url": spec.base_url,
        "protect_repositories": production,
        "repositories": [_repository_args(repo, production, base_dir) for repo in spec.repositories],
        "access_tokens": tokens,
        "org_access_tokens": org_tokens,
        "teams": teams,
    }
