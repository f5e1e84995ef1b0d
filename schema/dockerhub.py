"""Config model of `registries:dockerHub`: repositories, access tokens and webhooks on Docker Hub."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr

from schema.base import CamelModel, ConfigProblem, repeated

# Docker IDs and organisation names: 4-30 lowercase letters and digits.
NAMESPACE = r"^[a-z0-9]{4,30}$"
# Hub's repository naming rule (2-255 characters).
REPOSITORY_NAME = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$"
Namespace = Annotated[str, Field(pattern=NAMESPACE)]


def _https_url(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    if not (text.startswith("https://") or text.startswith("http://")) or " " in text:
        raise ValueError("must be an http(s):// URL")
    return value


def _future(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a time zone, e.g. 2027-01-31T00:00:00Z")
    return value


ExpiresAt = Annotated[datetime, AfterValidator(_future)]


class WebhookSpec(CamelModel):
    """A push webhook. Hub signs nothing, so the URL carries the receiver's secret and is itself a secret."""

    name: str = Field(pattern=r"^[A-Za-z0-9 ._-]{1,64}$")
    """Webhook name, unique in the repository."""
    url: Annotated[SecretStr, AfterValidator(_https_url)]
    """Hook URL, set as a secret (pulumi config set --secret --path ...)."""


class ImmutableTagsSpec(CamelModel):
    enabled: bool = False
    """Refuse overwriting tags that match `rules`. Default: false."""
    rules: list[str] = []
    """Regular expressions of tags that cannot be overwritten once pushed."""


class HubRepositorySpec(CamelModel):
    name: str = Field(min_length=2, max_length=255, pattern=REPOSITORY_NAME)
    """Repository name: 2-255 characters, lowercase letters, digits and . _ - separators."""
    namespace: Namespace | None = None
    """Owner; defaults to dockerHub.namespace."""
    description: str = Field(default="", max_length=100)
    """Short description, at most 100 characters. Default: empty."""
    full_description: str | None = Field(default=None, max_length=25000)
    """Long description (Markdown), at most 25,000 characters. Default: none."""
    full_description_file: str | None = None
    """Path (relative to the project) of a README used as full description."""
    private: bool = True
    """Private by default."""
    immutable_tags: ImmutableTagsSpec = ImmutableTagsSpec()
    """Immutable tag settings. Default: off."""
    protect: bool | None = None
    """Deleting a Hub repository deletes its images. Default: protected on stacks named prod*."""
    webhooks: list[WebhookSpec] = []
    """Push webhooks of this repository. Default: none."""


Scope = Literal["repo:admin", "repo:write", "repo:read", "repo:public_read"]


class HubAccessTokenSpec(CamelModel):
    """A personal access token of the authenticated user."""

    label: str = Field(min_length=1, max_length=100)
    """Token label (1-100 characters), unique."""
    scopes: list[Scope] = Field(min_length=1)
    """One of repo:admin, repo:write, repo:read, repo:public_read; a change replaces the token."""
    expires_at: ExpiresAt | None = None
    """Expiry (RFC 3339 with time zone). Default: never."""
    active: bool = True
    """Whether the token can be used. Default: true."""


OrgScope = Annotated[str, Field(pattern=r"^scope-[a-z-]+$")]


class OrgTokenResourceSpec(CamelModel):
    type: Literal["TYPE_REPO", "TYPE_ORG"] = "TYPE_REPO"
    """TYPE_REPO or TYPE_ORG. Default: TYPE_REPO."""
    path: str = Field(min_length=1, pattern=r"^[a-z0-9*][a-z0-9._*/-]*$")
    """org/repo, a glob such as org/*, or */*/public."""
    scopes: list[OrgScope] = Field(min_length=1)
    """Scopes with the scope- prefix, e.g. scope-image-pull."""


class HubOrgAccessTokenSpec(CamelModel):
    org: Namespace
    """Organization that owns the token."""
    label: str = Field(min_length=1, max_length=100)
    """Token label (1-100 characters), unique."""
    description: str = ""
    """Free text. Default: empty."""
    resources: list[OrgTokenResourceSpec] = Field(min_length=1)
    """What the token may access: [{type, path, scopes}]."""
    expires_at: ExpiresAt | None = None
    """Expiry (RFC 3339 with time zone). Default: never."""
    active: bool = True
    """Whether the token can be used. Default: true."""


class TeamPermissionSpec(CamelModel):
    repository: str = Field(min_length=2, max_length=255, pattern=REPOSITORY_NAME)
    """Repository in the team's organization."""
    permission: Literal["read", "write", "admin"] = "read"
    """What the team may do there. Default: read."""


class HubTeamSpec(CamelModel):
    """An organization team (a Hub "group") and its repository permissions."""

    org: Namespace
    """Organization of the team."""
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,29}$")
    """Team name; renaming replaces the team."""
    description: str = ""
    """Free text. Default: empty."""
    permissions: list[TeamPermissionSpec] = []
    """Repository permissions of the team. Default: none."""


class DockerHubSpec(CamelModel):
    """`registries:dockerHub`. Credentials come from DOCKER_USERNAME with DOCKER_PASSWORD or
    DOCKER_HUB_TOKEN at call time, or from the secret `registries:dockerHubSecret`; never from state."""

    namespace: Namespace
    """Default namespace (user or organisation) of the repositories."""
    username: str | None = None
    """Identifier to authenticate with (user name, or org name for an org token). Default: DOCKER_USERNAME."""
    base_url: str = Field(default="https://hub.docker.com", pattern=r"^https?://[^\s/]+(:[0-9]+)?$")
    """Hub API base URL. Default: https://hub.docker.com."""
    repositories: list[HubRepositorySpec] = []
    """Repositories to manage. Default: none."""
    access_tokens: list[HubAccessTokenSpec] = []
    """Personal access tokens of the authenticated user. Default: none."""
    org_access_tokens: list[HubOrgAccessTokenSpec] = []
    """Organization access tokens. Default: none."""
    teams: list[HubTeamSpec] = []
    """Organization teams and their repository permissions (needs a password or an org token). Default: none."""


def dockerhub_problems(spec: DockerHubSpec, stack: str, base_dir: Path) -> list[ConfigProblem]:
    root = "registries:dockerHub"
    out: list[ConfigProblem] = []

    def bad(path: str, value: object, allowed: str) -> None:
        out.append(ConfigProblem(f"{root}.{path}", repr(value), allowed))

    repos = spec.repositories
    for i in repeated(f"{r.namespace or spec.namespace}/{r.name}" for r in repos):
        bad(f"repositories[{i}].name", repos[i].name, "this repository is declared twice")
    for i, repo in enumerate(repos):
        where = f"repositories[{i}].fullDescriptionFile"
        if repo.full_description_file is not None:
            path = base_dir / repo.full_description_file
            if repo.full_description is not None:
                bad(where, repo.full_description_file, "give fullDescription or fullDescriptionFile, not both")
            elif not path.is_file():
                bad(where, repo.full_description_file, f"no such file under {base_dir}")
            elif len(path.read_text(encoding="utf-8")) > 25000:
                bad(where, repo.full_description_file, "Hub allows at most 25,000 characters")
        for j in repeated(hook.name for hook in repo.webhooks):
            bad(
                f"repositories[{i}].webhooks[{j}].name",
                repo.webhooks[j].name,
                "webhook names must be unique per repository",
            )
    for i in repeated(f"{team.org}/{team.name}" for team in spec.teams):
        bad(f"teams[{i}].name", spec.teams[i].name, "teams must be unique per org")
    for i, team in enumerate(spec.teams):
        for j in repeated(grant.repository for grant in team.permissions):
            bad(
                f"teams[{i}].permissions[{j}].repository",
                team.permissions[j].repository,
                "one permission per repository and team",
            )
    for key, tokens in (("accessTokens", spec.access_tokens), ("orgAccessTokens", spec.org_access_tokens)):
        for i in repeated(token.label for token in tokens):
            bad(f"{key}[{i}].label", tokens[i].label, "token labels must be unique")
    return out
