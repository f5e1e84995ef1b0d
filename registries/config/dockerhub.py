"""Config model of `registries:dockerHub`: repositories, access tokens and webhooks on Docker Hub."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, StrictBool

from components.dockerhub_names import (  # the component's naming rules: one definition of each
    NAMESPACE,
    REPOSITORY_NAME,
    org_token_resource_name,
    permission_resource_name,
    token_resource_name,
    urn_part,
    webhook_resource_name,
)
from registries.config.base import CamelModel, ConfigProblem, repeated
from registries.config.retention import RetentionSpec
from registries.config.signing import SigningSpec

Namespace = Annotated[str, Field(pattern=NAMESPACE)]


def _https_url(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    if not (text.startswith("https://") or text.startswith("http://")) or " " in text:
        raise ValueError("must be an http(s):// URL")
    return value


EXPIRY_EXAMPLE = "2030-01-31T00:00:00Z"


def _expiry(value: object) -> datetime:
    """An ISO 8601 date-time string with a zone. Numbers are refused: pydantic would read 70000 as a Unix
    time (a token that expired in 1970). "In the future" is the token providers' check, at creation only:
    here it would stop every later `up` of the stack once an existing token's date has passed."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"must be an ISO 8601 date-time with a time zone, e.g. {EXPIRY_EXAMPLE}") from None
    else:
        raise ValueError(f"must be an ISO 8601 date-time string with a time zone, e.g. {EXPIRY_EXAMPLE}")
    if moment.tzinfo is None:
        raise ValueError(f"must carry a time zone, e.g. {EXPIRY_EXAMPLE}")
    return moment


ExpiresAt = Annotated[datetime, BeforeValidator(_expiry)]


class WebhookSpec(CamelModel):
    """A push webhook. Hub signs nothing, so the URL carries the receiver's secret and is itself a secret."""

    name: str = Field(pattern=r"^[A-Za-z0-9 ._-]{1,64}$")
    """Webhook name, unique in the repository."""
    url: Annotated[SecretStr, AfterValidator(_https_url)]
    """Hook URL, set as a secret (pulumi config set --secret --path ...)."""


class ImmutableTagsSpec(CamelModel):
    enabled: StrictBool = False
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
    """Path of a README used as full description, relative to and inside the project directory."""
    private: StrictBool = True
    """Private by default."""
    immutable_tags: ImmutableTagsSpec = ImmutableTagsSpec()
    """Immutable tag settings. Default: off."""
    protect: StrictBool | None = None
    """Deleting a Hub repository deletes its images. Default: protected on stacks named prod*."""
    webhooks: list[WebhookSpec] = []
    """Push webhooks of this repository. Default: none."""
    retention: RetentionSpec | None = None
    """Which tags `registryctl retention apply` deletes here; overrides dockerHub.retention as a whole ({} for
    none). Not a Hub setting: nothing is deployed for it. Default: dockerHub.retention."""


Scope = Literal["repo:admin", "repo:write", "repo:read", "repo:public_read"]


class HubAccessTokenSpec(CamelModel):
    """A personal access token of the authenticated user."""

    label: str = Field(min_length=1, max_length=100)
    """Token label (1-100 characters), unique."""
    scopes: list[Scope] = Field(min_length=1)
    """One of repo:admin, repo:write, repo:read, repo:public_read; a change replaces the token."""
    expires_at: ExpiresAt | None = None
    """Expiry: an ISO 8601 date-time string with a time zone, in the future when the token is created.
    Default: never."""
    active: StrictBool = True
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
    """Expiry: an ISO 8601 date-time string with a time zone, in the future when the token is created.
    Default: never."""
    active: StrictBool = True
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
    """Who logs in (a user name, or the org name with an org token). Changing it replaces only personal
    access tokens (they belong to a user). Default: DOCKER_USERNAME."""
    base_url: str = Field(default="https://hub.docker.com", pattern=r"^https?://[^\s/]+(:[0-9]+)?$")
    """Hub API base URL; changing it replaces nothing. Default: https://hub.docker.com."""
    repositories: list[HubRepositorySpec] = []
    """Repositories to manage. Default: none."""
    access_tokens: list[HubAccessTokenSpec] = []
    """Personal access tokens of the authenticated user. Default: none."""
    org_access_tokens: list[HubOrgAccessTokenSpec] = []
    """Organization access tokens. Default: none."""
    teams: list[HubTeamSpec] = []
    """Organization teams and their repository permissions (needs a password or an org token). Default: none."""
    retention: RetentionSpec | None = None
    """Which tags `registryctl retention apply` deletes in every repository without its own `retention` (see
    Retention in README). Default: none (nothing is deleted)."""
    signing: SigningSpec | None = None
    """Keys CI signs this namespace's images with (cosign key pair, Notation certificate chain), handed out as the
    output signing.dockerHub, private keys as secrets. Default: none."""

    def retention_of(self, repository: HubRepositorySpec) -> RetentionSpec | None:
        """The retention block `repository` is enforced with: its own, else the dockerHub-level one."""
        return repository.retention if repository.retention is not None else self.retention


def _outside(base_dir: Path, relative: str) -> bool:
    """True when `relative` leaves the project directory (absolute, `..`, or a symlink out)."""
    if Path(relative).is_absolute():
        return True
    return not (base_dir / relative).resolve().is_relative_to(base_dir.resolve())


def dockerhub_problems(spec: DockerHubSpec, stack: str, base_dir: Path) -> list[ConfigProblem]:
    root = "registries:dockerHub"
    out: list[ConfigProblem] = []

    def bad(path: str, value: object, allowed: str) -> None:
        out.append(ConfigProblem(f"{root}.{path}", repr(value), allowed))

    def same_name(kind: str, name: str) -> str:
        return f"names the same {kind} as an earlier entry (both become {name!r} in the stack); make them differ"

    repos = spec.repositories
    for i in repeated(f"{r.namespace or spec.namespace}/{r.name}" for r in repos):
        bad(f"repositories[{i}].name", repos[i].name, "this repository is declared twice")
    for i, repo in enumerate(repos):
        where = f"repositories[{i}].fullDescriptionFile"
        if repo.full_description_file is not None:
            path = base_dir / repo.full_description_file
            if repo.full_description is not None:
                bad(where, repo.full_description_file, "give fullDescription or fullDescriptionFile, not both")
            elif _outside(base_dir, repo.full_description_file):
                bad(
                    where,
                    repo.full_description_file,
                    f"must be a relative path inside the project directory {base_dir} "
                    "(the file is published on Docker Hub)",
                )
            elif not path.is_file():
                bad(where, repo.full_description_file, f"no such file under {base_dir}")
            elif len(path.read_text(encoding="utf-8")) > 25000:
                bad(where, repo.full_description_file, "Hub allows at most 25,000 characters")
    for i, repo in enumerate(repos):
        # Hub refuses to delete immutable tags: `retention apply` would stop at the first one, on every re-run.
        block = spec.retention_of(repo)
        if repo.immutable_tags.enabled and block is not None and not block.intent().is_empty:
            given = "a retention block" if repo.retention is not None else "nothing: it inherits dockerHub.retention"
            out.append(
                ConfigProblem(
                    f"{root}.repositories[{i}].retention",
                    given,
                    "rules not allowed with immutableTags.enabled: Docker Hub refuses to delete immutable tags, so "
                    "`registryctl retention apply` would fail partway; set `retention: {}` here or disable "
                    "immutableTags",
                )
            )
    # Resource names are built from these keys; two entries with one name would crash the deployment.
    hooks = [(i, j, r, h) for i, r in enumerate(repos) for j, h in enumerate(r.webhooks)]
    hook_names = [webhook_resource_name(r.namespace or spec.namespace, r.name, h.name) for _, _, r, h in hooks]
    for k in repeated(hook_names):
        i, j, _, hook = hooks[k]
        bad(f"repositories[{i}].webhooks[{j}].name", hook.name, same_name("webhook", hook_names[k]))
    for i in repeated(f"{team.org}/{team.name}" for team in spec.teams):
        bad(f"teams[{i}].name", spec.teams[i].name, "teams must be unique per org")
    for i, team in enumerate(spec.teams):
        for j in repeated(grant.repository for grant in team.permissions):
            bad(
                f"teams[{i}].permissions[{j}].repository",
                team.permissions[j].repository,
                "one permission per repository and team",
            )
    grants = [(i, j, t, g) for i, t in enumerate(spec.teams) for j, g in enumerate(t.permissions)]
    grant_names = [permission_resource_name(t.org, g.repository, t.name) for _, _, t, g in grants]
    # The same repository twice in one team is reported above; here, collisions across teams.
    reported = {k for k in repeated((i, g.repository) for i, _, _, g in grants)}
    for k in repeated(grant_names):
        i, j, _, grant = grants[k]
        if k not in reported:
            bad(f"teams[{i}].permissions[{j}].repository", grant.repository, same_name("permission", grant_names[k]))
    for k in repeated(token_resource_name(token.label) for token in spec.access_tokens):
        label = spec.access_tokens[k].label
        bad(f"accessTokens[{k}].label", label, "token labels must be unique; " + same_name("token", urn_part(label)))
    org_tokens = spec.org_access_tokens
    for k in repeated(org_token_resource_name(token.org, token.label) for token in org_tokens):
        label = org_tokens[k].label
        bad(f"orgAccessTokens[{k}].label", label, "token labels must be unique; " + same_name("token", urn_part(label)))
    return out
