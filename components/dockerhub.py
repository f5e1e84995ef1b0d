"""DockerHub: repositories, webhooks, teams and access tokens on Docker Hub, through our dynamic providers."""

# No `from __future__ import annotations`: the component-provider analyzer reads these annotations at run time.
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi

from components.arg_checks import enum_value
from components.dockerhub_names import (
    NAMESPACE,
    REPOSITORY_NAME,
    org_token_resource_name,
    permission_resource_name,
    token_resource_name,
    webhook_resource_name,
)
from providers.dockerhub import AccessToken, OrgAccessToken, Repository, RepositoryTeamPermission, Team, Webhook

DEFAULT_BASE_URL = "https://hub.docker.com"
ORG_TOKEN_SCOPE = re.compile(r"scope-[a-z-]+")
TEAM_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
BASE_URL = re.compile(r"https?://[^\s/]+(:[0-9]+)?")
MAX_DESCRIPTION = 100
MAX_FULL_DESCRIPTION = 25000


class DockerHubTeamPermission(StrEnum):
    """What a team may do in a repository."""

    READ = "read"
    """Pull."""
    WRITE = "write"
    """Pull and push."""
    ADMIN = "admin"
    """Pull, push and change the repository's settings."""


class DockerHubTokenScope(StrEnum):
    """What a personal access token may do."""

    REPO_ADMIN = "repo:admin"
    """Read, write and delete repositories."""
    REPO_WRITE = "repo:write"
    """Push and pull."""
    REPO_READ = "repo:read"
    """Pull, also private repositories."""
    REPO_PUBLIC_READ = "repo:public_read"
    """Pull public repositories."""


class DockerHubOrgTokenResourceType(StrEnum):
    """What an organization access token's resource entry names."""

    TYPE_REPO = "TYPE_REPO"
    """Repositories: org/repo, a glob such as org/*, or */*/public."""
    TYPE_ORG = "TYPE_ORG"
    """The organization itself."""


class DockerHubWebhookArgs(TypedDict):
    """A push webhook. Hub signs nothing, so the URL carries the receiver's secret and is itself a secret."""

    name: str
    """Webhook name (1-64 of letters, digits, space . _ -), unique in the repository; a change replaces it."""
    url: pulumi.Input[str]
    """Secret. The http(s):// URL Hub POSTs each push to."""


class DockerHubImmutableTagsArgs(TypedDict):
    """Tags that cannot be overwritten once pushed."""

    enabled: NotRequired[bool]
    """Refuse overwriting tags that match `rules`. Default: false."""
    rules: NotRequired[list[str]]
    """Regular expressions of tags that cannot be overwritten once pushed. Default: none."""


class DockerHubRepositoryArgs(TypedDict):
    """A Docker Hub repository."""

    name: str
    """Repository name: 2-255 characters, lowercase letters, digits and . _ - separators."""
    namespace: NotRequired[str]
    """Owner (user or organization). Default: the component's `namespace`."""
    description: NotRequired[pulumi.Input[str]]
    """Short description, at most 100 characters. Default: empty."""
    full_description: NotRequired[pulumi.Input[str]]
    """Long description (Markdown text, e.g. a README's content), at most 25,000 characters. Default: empty."""
    private: NotRequired[bool]
    """Only the owner's members can pull. Default: true."""
    immutable_tags: NotRequired[DockerHubImmutableTagsArgs]
    """Immutable tag settings. Default: off."""
    protect: NotRequired[bool]
    """Pulumi protect (deleting a Hub repository deletes its images). Default: the component's
    `protect_repositories`."""
    webhooks: NotRequired[list[DockerHubWebhookArgs]]
    """Push webhooks of this repository. Default: none."""


class DockerHubAccessTokenArgs(TypedDict):
    """A personal access token of the user the provider logs in as."""

    label: str
    """Token label (1-100 characters), unique."""
    scopes: list[DockerHubTokenScope]
    """One or more scopes; a change replaces the token."""
    expires_at: NotRequired[str]
    """Expiry: an ISO 8601 date-time with a time zone (e.g. 2030-01-31T00:00:00Z), in the future when the token
    is created. Default: never."""
    active: NotRequired[bool]
    """Whether the token can be used. Default: true."""


class DockerHubOrgTokenResourceArgs(TypedDict):
    """What an organization access token may access."""

    path: str
    """org/repo, a glob such as org/*, or */*/public."""
    scopes: list[str]
    """Scopes with the scope- prefix, e.g. scope-image-pull."""
    type: NotRequired[DockerHubOrgTokenResourceType]
    """TYPE_REPO or TYPE_ORG. Default: TYPE_REPO."""


class DockerHubOrgAccessTokenArgs(TypedDict):
    """An organization access token."""

    org: str
    """Organization that owns the token."""
    label: str
    """Token label (1-100 characters), unique."""
    resources: list[DockerHubOrgTokenResourceArgs]
    """What the token may access; at least one entry."""
    description: NotRequired[str]
    """Free text. Default: empty."""
    expires_at: NotRequired[str]
    """Expiry: an ISO 8601 date-time with a time zone, in the future when the token is created. Default: never."""
    active: NotRequired[bool]
    """Whether the token can be used. Default: true."""


class DockerHubTeamRepositoryArgs(TypedDict):
    """A team's permission on one repository of its organization."""

    repository: str
    """Repository in the team's organization."""
    permission: NotRequired[DockerHubTeamPermission]
    """What the team may do there. Default: read."""


class DockerHubTeamArgs(TypedDict):
    """An organization team (a Hub "group") and its repository permissions."""

    org: str
    """Organization of the team."""
    name: str
    """Team name (lowercase letters, digits, _ -; at most 30); renaming replaces the team."""
    description: NotRequired[str]
    """Free text. Default: empty."""
    permissions: NotRequired[list[DockerHubTeamRepositoryArgs]]
    """Repository permissions of the team. Default: none."""


class DockerHubArgs(TypedDict):
    """Docker Hub objects of one account. Who logs in is the providers' configuration (DOCKER_USERNAME with
    DOCKER_PASSWORD or DOCKER_HUB_TOKEN, or the stack's registries:dockerHubSecret), never an input."""

    namespace: str
    """Default namespace (user or organization) of the repositories: 4-30 lowercase letters and digits."""
    repositories: NotRequired[list[DockerHubRepositoryArgs]]
    """Repositories to manage. Default: none."""
    access_tokens: NotRequired[list[DockerHubAccessTokenArgs]]
    """Personal access tokens of the user the provider logs in as. Default: none."""
    org_access_tokens: NotRequired[list[DockerHubOrgAccessTokenArgs]]
    """Organization access tokens. Default: none."""
    teams: NotRequired[list[DockerHubTeamArgs]]
    """Organization teams and their repository permissions. Default: none."""
    protect_repositories: NotRequired[bool]
    """Pulumi protect on every repository without its own `protect`. Default: false."""
    base_url: NotRequired[pulumi.Input[str]]
    """Hub API base URL; changing it replaces nothing. Default: https://hub.docker.com."""


def _utc(moment: datetime) -> str:
    """One spelling of an instant (UTC, `Z`), whatever offset the config used."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _expiry(value: object, where: str) -> str:
    """An ISO 8601 date-time with a zone, as UTC `Z`; ValueError naming `where`."""
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(
            f"{where}: {value!r} must be an ISO 8601 date-time with a time zone, e.g. 2030-01-31T00:00:00Z"
        )
    return _utc(moment)


def _by_key(outputs: dict[str, pulumi.Output[str]]) -> pulumi.Output[dict[str, str]]:
    # Output.all(**{}) resolves to [] (L9): an empty map stays a map.
    if not outputs:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(**outputs).apply(dict)


def _matches(pattern: str | re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


def _check_namespace(value: object, where: str) -> None:
    if not _matches(NAMESPACE, value):
        raise ValueError(f"{where}: {value!r} must be 4-30 lowercase letters and digits")


def _check_text(value: object, limit: int, where: str) -> None:
    if isinstance(value, str) and len(value) > limit:  # an Output is Hub's to refuse
        raise ValueError(f"{where}: {len(value)} characters; Hub allows at most {limit:,}")


def _check_hook_url(url: str, where: str) -> str:
    """Hub calls http(s) URLs. The URL is a secret: the message does not show it."""
    if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
        raise ValueError(f"{where}: must be an http(s):// URL without spaces (the value is secret, not shown)")
    return url


def _unique(names: list[str], what: str, where: list[str]) -> None:
    """Two entries that become one resource name would crash the deployment: refuse the second."""
    seen: set[str] = set()
    for name, path in zip(names, where, strict=True):
        if name in seen:
            raise ValueError(
                f"{path}: names the same {what} as an earlier entry (both become {name!r}); make them differ"
            )
        seen.add(name)


def _check(args: DockerHubArgs) -> None:
    """Run-time checks of what the args alone can tell, naming the arg (library users bypass the config schema)."""
    root = "DockerHubArgs"
    namespace = args.get("namespace")
    _check_namespace(namespace, f"{root}.namespace")
    base_url = args.get("base_url", DEFAULT_BASE_URL)
    if isinstance(base_url, str) and not _matches(BASE_URL, base_url):
        raise ValueError(f"{root}.base_url: {base_url!r} must be http(s)://host[:port] without a path")
    repos = args.get("repositories", [])
    for i, repo in enumerate(repos):
        where = f"{root}.repositories[{i}]"
        name = repo.get("name")
        if not (_matches(REPOSITORY_NAME, name) and 2 <= len(str(name)) <= 255):
            raise ValueError(f"{where}.name: {name!r} must be 2-255 lowercase letters, digits and . _ - separators")
        if "namespace" in repo:
            _check_namespace(repo["namespace"], f"{where}.namespace")
        _check_text(repo.get("description"), MAX_DESCRIPTION, f"{where}.description")
        _check_text(repo.get("full_description"), MAX_FULL_DESCRIPTION, f"{where}.full_description")
        for j, hook in enumerate(repo.get("webhooks", [])):
            if not _matches(r"[A-Za-z0-9 ._-]{1,64}", hook.get("name")):
                raise ValueError(
                    f"{where}.webhooks[{j}].name: {hook.get('name')!r} must be 1-64 of A-Z a-z 0-9 space . _ -"
                )
            if isinstance(hook["url"], str):  # an Output is checked when its value is known
                _check_hook_url(hook["url"], f"{where}.webhooks[{j}].url")
    _unique(
        [f"{repo.get('namespace', namespace)}/{repo['name']}" for repo in repos],
        "repository",
        [f"{root}.repositories[{i}].name" for i in range(len(repos))],
    )
    hooks = [(i, j, repo, hook) for i, repo in enumerate(repos) for j, hook in enumerate(repo.get("webhooks", []))]
    _unique(
        [
            webhook_resource_name(repo.get("namespace", namespace), repo["name"], hook["name"])
            for _, _, repo, hook in hooks
        ],
        "webhook",
        [f"{root}.repositories[{i}].webhooks[{j}].name" for i, j, _, _ in hooks],
    )
    tokens = args.get("access_tokens", [])
    for i, token in enumerate(tokens):
        where = f"{root}.access_tokens[{i}]"
        if not token.get("scopes"):
            allowed = ", ".join(scope.value for scope in DockerHubTokenScope)
            raise ValueError(f"{where}.scopes: give at least one of {allowed}")
        for k, scope in enumerate(token["scopes"]):
            enum_value(DockerHubTokenScope, scope, f"{where}.scopes[{k}]")
        if "expires_at" in token:
            _expiry(token["expires_at"], f"{where}.expires_at")
    _unique(
        [token_resource_name(token["label"]) for token in tokens],
        "token",
        [f"{root}.access_tokens[{i}].label" for i in range(len(tokens))],
    )
    org_tokens = args.get("org_access_tokens", [])
    for i, org_token in enumerate(org_tokens):
        where = f"{root}.org_access_tokens[{i}]"
        _check_namespace(org_token.get("org"), f"{where}.org")
        if not org_token.get("resources"):
            raise ValueError(f"{where}.resources: give at least one {{path, scopes}}")
        for k, resource in enumerate(org_token["resources"]):
            enum_value(DockerHubOrgTokenResourceType, resource.get("type", "TYPE_REPO"), f"{where}.resources[{k}].type")
            for m, scope in enumerate(resource.get("scopes") or [None]):
                if not _matches(ORG_TOKEN_SCOPE, scope):
                    raise ValueError(
                        f"{where}.resources[{k}].scopes[{m}]: {scope!r} must be scope-<name>, e.g. scope-image-pull"
                    )
        if "expires_at" in org_token:
            _expiry(org_token["expires_at"], f"{where}.expires_at")
    _unique(
        [org_token_resource_name(token["org"], token["label"]) for token in org_tokens],
        "token",
        [f"{root}.org_access_tokens[{i}].label" for i in range(len(org_tokens))],
    )
    teams = args.get("teams", [])
    for i, team in enumerate(teams):
        where = f"{root}.teams[{i}]"
        _check_namespace(team.get("org"), f"{where}.org")
        if not _matches(TEAM_NAME, team.get("name")):
            raise ValueError(f"{where}.name: {team.get('name')!r} must be 1-30 lowercase letters, digits, _ -")
        for k, grant in enumerate(team.get("permissions", [])):
            enum_value(DockerHubTeamPermission, grant.get("permission", "read"), f"{where}.permissions[{k}].permission")
    _unique(
        [f"{team['org']}/{team['name']}" for team in teams],
        "team",
        [f"{root}.teams[{i}].name" for i in range(len(teams))],
    )
    grants = [
        (i, k, team, grant) for i, team in enumerate(teams) for k, grant in enumerate(team.get("permissions", []))
    ]
    _unique(
        [permission_resource_name(team["org"], grant["repository"], team["name"]) for _, _, team, grant in grants],
        "permission",
        [f"{root}.teams[{i}].permissions[{k}].repository" for i, k, _, _ in grants],
    )


class DockerHub(pulumi.ComponentResource):
    """Docker Hub repositories (with webhooks and immutable tags), organization teams and their repository
    permissions, and personal and organization access tokens."""

    repositories: pulumi.Output[list[str]]
    """Full names (namespace/name) of the managed repositories."""
    access_tokens: pulumi.Output[dict[str, str]]
    """Secret. Personal access token label -> token."""
    org_access_tokens: pulumi.Output[dict[str, str]]
    """Secret. "org/label" -> organization access token."""

    def __init__(self, name: str, args: DockerHubArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _check(args)  # before any resource: a bad arg declares nothing
        # The old token stays an alias, so stacks created before keep their URNs.
        alias = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="registries:dockerhub:DockerHub")])
        super().__init__("registries:index:DockerHub", name, None, pulumi.ResourceOptions.merge(opts, alias))
        default_namespace = args["namespace"]
        # Where Hub is; who logs in (dockerHub.username, the secret) is the providers' configuration,
        # read from the stack config in `configure`, never a resource input: credentials are not identity.
        common: dict[str, Any] = {"baseUrl": args.get("base_url", DEFAULT_BASE_URL)}

        namespaces: list[pulumi.Output[str]] = []
        repository_names: list[str] = []
        repositories: dict[str, Repository] = {}
        for i, repo in enumerate(args.get("repositories", [])):
            namespace = repo.get("namespace", default_namespace)
            resource = Repository(
                f"{name}-repo-{namespace}-{repo['name']}",
                {**common, **self._repository_props(repo, namespace)},
                pulumi.ResourceOptions(
                    parent=self, protect=repo.get("protect", args.get("protect_repositories", False))
                ),
            )
            namespaces.append(resource.namespace)
            repository_names.append(repo["name"])
            repositories[f"{namespace}/{repo['name']}"] = resource
            for j, hook in enumerate(repo.get("webhooks", [])):
                where = f"DockerHubArgs.repositories[{i}].webhooks[{j}].url"
                Webhook(
                    f"{name}-hook-{webhook_resource_name(namespace, repo['name'], hook['name'])}",
                    {
                        **common,
                        "namespace": namespace,
                        "repository": repo["name"],
                        "name": hook["name"],
                        # A URL from another resource is checked once known (the value stays the same, and secret).
                        "hookUrl": pulumi.Output.secret(hook["url"]).apply(
                            lambda url, where=where: _check_hook_url(url, where)
                        ),
                    },
                    pulumi.ResourceOptions(parent=self, depends_on=[resource]),
                )

        tokens: dict[str, pulumi.Output[str]] = {}
        for i, token in enumerate(args.get("access_tokens", [])):
            props: dict[str, Any] = {
                **common,
                "label": token["label"],
                "scopes": [enum_value(DockerHubTokenScope, scope, "scope") for scope in token["scopes"]],
                "active": token.get("active", True),
            }
            if "expires_at" in token:
                props["expiresAt"] = _expiry(token["expires_at"], f"DockerHubArgs.access_tokens[{i}].expires_at")
            tokens[token["label"]] = AccessToken(
                f"{name}-token-{token_resource_name(token['label'])}", props, pulumi.ResourceOptions(parent=self)
            ).token

        org_tokens: dict[str, pulumi.Output[str]] = {}
        for i, org_token in enumerate(args.get("org_access_tokens", [])):
            props = {
                **common,
                "org": org_token["org"],
                "label": org_token["label"],
                "description": org_token.get("description", ""),
                "resources": [
                    {
                        "type": enum_value(DockerHubOrgTokenResourceType, resource.get("type", "TYPE_REPO"), "type"),
                        "path": resource["path"],
                        "scopes": list(resource["scopes"]),
                    }
                    for resource in org_token["resources"]
                ],
                "active": org_token.get("active", True),
            }
            if "expires_at" in org_token:
                where = f"DockerHubArgs.org_access_tokens[{i}].expires_at"
                props["expiresAt"] = _expiry(org_token["expires_at"], where)
            org_tokens[f"{org_token['org']}/{org_token['label']}"] = OrgAccessToken(
                f"{name}-org-token-{org_token_resource_name(org_token['org'], org_token['label'])}",
                props,
                pulumi.ResourceOptions(parent=self),
            ).token

        for team_args in args.get("teams", []):
            org, team_name = team_args["org"], team_args["name"]
            team = Team(
                f"{name}-team-{org}-{team_name}",
                {**common, "org": org, "name": team_name, "description": team_args.get("description", "")},
                pulumi.ResourceOptions(parent=self),
            )
            for grant in team_args.get("permissions", []):
                # Wait for a repository this stack declares, so the grant never races its creation.
                repo_resource = repositories.get(f"{org}/{grant['repository']}")
                RepositoryTeamPermission(
                    f"{name}-permission-{permission_resource_name(org, grant['repository'], team_name)}",
                    {
                        **common,
                        "namespace": org,
                        "repository": grant["repository"],
                        # The team's name identifies the grant; its id (unknown while the team is
                        # being updated in a preview) only addresses it in Hub's API.
                        "team": team_name,
                        "teamId": team.teamId,
                        "permission": enum_value(
                            DockerHubTeamPermission, grant.get("permission", "read"), "permission"
                        ),
                    },
                    pulumi.ResourceOptions(
                        parent=self, depends_on=[repo_resource] if repo_resource is not None else []
                    ),
                )

        # One Output over every repository, not a concat chain per repository (benchmarks/program_scale.py).
        self.repositories = pulumi.Output.all(*namespaces).apply(
            lambda known: [f"{namespace}/{name}" for namespace, name in zip(known, repository_names, strict=True)]
        )
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
    def _repository_props(repo: DockerHubRepositoryArgs, namespace: str) -> dict[str, Any]:
        immutable = repo.get("immutable_tags", {})
        return {
            "namespace": namespace,
            "name": repo["name"],
            "description": repo.get("description", ""),
            "fullDescription": repo.get("full_description", ""),
            "private": repo.get("private", True),
            "immutableTags": {"enabled": immutable.get("enabled", False), "rules": list(immutable.get("rules", []))},
        }
