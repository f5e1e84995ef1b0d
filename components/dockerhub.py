"""DockerHub: repositories, webhooks and access tokens on Docker Hub, through our dynamic providers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi

from providers.dockerhub import AccessToken, OrgAccessToken, Repository, RepositoryTeamPermission, Team, Webhook
from registries.spec.dockerhub import (
    DockerHubSpec,
    HubRepositorySpec,
    org_token_resource_name,
    permission_resource_name,
    token_resource_name,
    webhook_resource_name,
)


@dataclass(frozen=True)
class DockerHubArgs:
    spec: DockerHubSpec
    """The validated `registries:dockerHub` config."""
    protect_repositories: bool
    """Default protection of repositories (deleting one deletes its images). Default: on prod stacks."""
    base_dir: Path
    """Directory that `fullDescriptionFile` paths are relative to."""


def _utc(moment: datetime) -> str:
    """One spelling of an instant (UTC, `Z`), whatever offset the config used."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _by_key(outputs: dict[str, pulumi.Output[str]]) -> pulumi.Output[dict[str, str]]:
    # Output.all(**{}) resolves to [] (L9): an empty map stays a map.
    if not outputs:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(**outputs).apply(dict)


class DockerHub(pulumi.ComponentResource):
    repositories: pulumi.Output[list[str]]
    """Full names (namespace/name) of the managed repositories."""
    access_tokens: pulumi.Output[dict[str, str]]
    """Personal access token label -> token (secret)."""
    org_access_tokens: pulumi.Output[dict[str, str]]
    """"org/label" -> organization access token (secret)."""

    def __init__(self, name: str, args: DockerHubArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("registries:dockerhub:DockerHub", name, None, opts)
        spec = args.spec
        # Where Hub is; who logs in (dockerHub.username, the secret) is the providers' configuration,
        # read from the stack config in `configure`, never a resource input: credentials are not identity.
        common: dict[str, Any] = {"baseUrl": spec.base_url}

        full_names: list[pulumi.Output[str]] = []
        repositories: dict[str, Repository] = {}
        for repo in spec.repositories:
            namespace = repo.namespace or spec.namespace
            resource = Repository(
                f"{name}-repo-{namespace}-{repo.name}",
                {**common, **self._repository_props(repo, namespace, args.base_dir)},
                pulumi.ResourceOptions(
                    parent=self,
                    protect=args.protect_repositories if repo.protect is None else repo.protect,
                ),
            )
            full_names.append(pulumi.Output.concat(resource.namespace, "/", repo.name))
            repositories[f"{namespace}/{repo.name}"] = resource
            for hook in repo.webhooks:
                Webhook(
                    f"{name}-hook-{webhook_resource_name(namespace, repo.name, hook.name)}",
                    {
                        **common,
                        "namespace": namespace,
                        "repository": repo.name,
                        "name": hook.name,
                        "hookUrl": pulumi.Output.secret(hook.url.get_secret_value()),
                    },
                    pulumi.ResourceOptions(parent=self, depends_on=[resource]),
                )

        tokens: dict[str, pulumi.Output[str]] = {}
        for token in spec.access_tokens:
            props: dict[str, Any] = {
                **common,
                "label": token.label,
                "scopes": list(token.scopes),
                "active": token.active,
            }
            if token.expires_at is not None:
                props["expiresAt"] = _utc(token.expires_at)
            tokens[token.label] = AccessToken(
                f"{name}-token-{token_resource_name(token.label)}", props, pulumi.ResourceOptions(parent=self)
            ).token

        org_tokens: dict[str, pulumi.Output[str]] = {}
        for org_token in spec.org_access_tokens:
            props = {
                **common,
                "org": org_token.org,
                "label": org_token.label,
                "description": org_token.description,
                "resources": [r.model_dump(by_alias=True) for r in org_token.resources],
                "active": org_token.active,
            }
            if org_token.expires_at is not None:
                props["expiresAt"] = _utc(org_token.expires_at)
            org_tokens[f"{org_token.org}/{org_token.label}"] = OrgAccessToken(
                f"{name}-org-token-{org_token_resource_name(org_token.org, org_token.label)}",
                props,
                pulumi.ResourceOptions(parent=self),
            ).token

        for team_spec in spec.teams:
            team = Team(
                f"{name}-team-{team_spec.org}-{team_spec.name}",
                {**common, "org": team_spec.org, "name": team_spec.name, "description": team_spec.description},
                pulumi.ResourceOptions(parent=self),
            )
            for grant in team_spec.permissions:
                # Wait for a repository this stack declares, so the grant never races its creation.
                repo = repositories.get(f"{team_spec.org}/{grant.repository}")
                RepositoryTeamPermission(
                    f"{name}-permission-{permission_resource_name(team_spec.org, grant.repository, team_spec.name)}",
                    {
                        **common,
                        "namespace": team_spec.org,
                        "repository": grant.repository,
                        # The team's name identifies the grant; its id (unknown while the team is
                        # being updated in a preview) only addresses it in Hub's API.
                        "team": team_spec.name,
                        "teamId": team.teamId,
                        "permission": grant.permission,
                    },
                    pulumi.ResourceOptions(parent=self, depends_on=[repo] if repo is not None else []),
                )

        self.repositories = pulumi.Output.all(*full_names).apply(list)
        self.access_tokens = pulumi.Output.secret(_by_key(tokens))
        self.org_access_tokens = pulumi.Output.secret(_by_key(org_tokens))
        self.register_outputs(
            {
                "repositories": self.repositories,
                "accessTokens": self.access_tokens,
                "orgAccessTokens": self.org_access_tokens,
            }
        )

    @staticmethod
    def _repository_props(repo: HubRepositorySpec, namespace: str, base_dir: Path) -> dict[str, Any]:
        full = repo.full_description
        if repo.full_description_file is not None:
            full = (base_dir / repo.full_description_file).read_text(encoding="utf-8")
        return {
            "namespace": namespace,
            "name": repo.name,
            "description": repo.description,
            "fullDescription": full or "",
            "private": repo.private,
            "immutableTags": {"enabled": repo.immutable_tags.enabled, "rules": list(repo.immutable_tags.rules)},
        }
