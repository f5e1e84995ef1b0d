"""The `registries:artifactRegistry` config: Google Artifact Registry Docker repositories (also the `gcr.io`-named
ones that serve old Container Registry paths), Docker Hub mirrors, virtual repositories, Pub/Sub notifications and
a CI service account, validated before any resource is declared."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr, field_validator

from components.artifact_registry_names import (
    GCR_DOMAIN_LOCATIONS,
    KMS_KEY,
    LOCATION,
    MEMBER,
    NOTIFICATION_NAME,
    POOL_ID,
    PROJECT_ID,
    PROJECT_NUMBER,
    PUBLIC_MEMBERS,
    REPOSITORY_ID,
    SECRET_VERSION,
    SERVICE_ACCOUNT_EMAIL,
    SERVICE_ACCOUNT_ID,
    github_ref_problem,
    labels_problem,
)
from components.retention.artifact_registry import compile_cleanup_policies
from components.retention.model import PolicyError, RetentionIntent
from registries.config.base import (
    CamelModel,
    ConfigProblem,
    is_production_stack,
    pattern,
    repeated,
    repeated_problems,
    unique,
)
from registries.config.retention import RetentionSpec
from registries.config.signing import SigningSpec

ROOT = "registries:artifactRegistry"

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def _labels(labels: dict[str, str]) -> dict[str, str]:
    if problem := labels_problem(labels):
        raise ValueError(problem)
    return labels


Member = Annotated[
    str,
    pattern(
        MEMBER,
        "must be an IAM principal: user:<email>, serviceAccount:<email>, group:<email>, domain:<domain>, "
        "principal://iam.googleapis.com/..., principalSet://iam.googleapis.com/..., allUsers or allAuthenticatedUsers",
    ),
]
Members = Annotated[list[Member], AfterValidator(unique)]
Labels = Annotated[dict[str, str], AfterValidator(_labels)]
RepositoryId = Annotated[
    str,
    pattern(
        REPOSITORY_ID,
        "must be 1-63 lowercase letters, digits and -, starting with a letter, ending in a letter or digit",
    ),
]
KmsKeyName = Annotated[
    str,
    pattern(
        KMS_KEY, "must be a Cloud KMS key name projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>"
    ),
]


class ArtifactRegistryRepositorySettings(CamelModel):
    """What every repository (and each gcr.io-named one) inherits from `defaults` and may override."""

    immutable_tags: bool | None = None
    """Tags cannot be moved or deleted once pushed (new tags are still allowed). Default: true on prod stacks,
    false elsewhere."""
    vulnerability_scanning: bool = True
    """Scan images (INHERITED: the project's Container Scanning API decides; false: DISABLED for this repository).
    Default: true."""
    retention: RetentionSpec | None = None
    """Which images the cleanup policies delete (see Retention in README); Artifact Registry cannot express
    keepLatest, nor protect patterns other than PREFIX*. Default: none (no cleanup policies)."""
    readers: Members = []
    """IAM principals granted roles/artifactregistry.reader (pull), e.g. serviceAccount:run@p.iam.gserviceaccount.com.
    Default: none."""
    writers: Members = []
    """IAM principals granted roles/artifactregistry.writer (push and pull). Default: none."""
    labels: Labels = {}
    """Labels of the repository (keys and values lowercase [a-z0-9_-]). Default: none."""
    kms_key_name: KmsKeyName | None = None
    """Customer-managed encryption key in the repository's location; the Artifact Registry service agent is granted
    roles/cloudkms.cryptoKeyEncrypterDecrypter on it (you need setIamPolicy on the key). It cannot change after
    creation (a change replaces the repository). Default: Google-managed encryption."""


class ArtifactRegistryRepositorySpec(CamelModel):
    """One Docker repository; every key but `name` and `description` overrides the same key of `defaults`."""

    name: RepositoryId
    """Repository id, e.g. apps (the image path is <location>-docker.pkg.dev/<project>/<name>/<image>)."""
    description: str = Field(default="", max_length=2048)
    """Description of the repository. Default: empty."""
    immutable_tags: bool | None = None
    """Overrides defaults.immutableTags."""
    vulnerability_scanning: bool | None = None
    """Overrides defaults.vulnerabilityScanning."""
    retention: RetentionSpec | None = None
    """Overrides defaults.retention as a whole ({} for no cleanup policies)."""
    readers: Members | None = None
    """Overrides defaults.readers ([] for none)."""
    writers: Members | None = None
    """Overrides defaults.writers ([] for none)."""
    labels: Labels | None = None
    """Overrides defaults.labels."""
    kms_key_name: KmsKeyName | None = None
    """Overrides defaults.kmsKeyName."""


class ArtifactRegistryUpstreamCredentials(CamelModel):
    """Docker Hub login of a mirror; the password stays in Secret Manager (Artifact Registry reads it there)."""

    username: str = Field(min_length=1, max_length=255)
    """Docker Hub user name."""
    password_secret_version: Annotated[
        str,
        pattern(
            SECRET_VERSION,
            "must be a Secret Manager version name projects/<project>/secrets/<secret>/versions/<n|latest>",
        ),
    ]
    """The Secret Manager version holding the Docker Hub access token; the Artifact Registry service agent is
    granted roles/secretmanager.secretAccessor on its secret."""


class ArtifactRegistryMirror(CamelModel):
    """A REMOTE repository caching Docker Hub: `docker pull <location>-docker.pkg.dev/<project>/<name>/library/x`."""

    name: RepositoryId
    """Repository id of the mirror, e.g. dockerhub."""
    description: str = Field(default="", max_length=2048)
    """Description. Default: empty."""
    upstream: Literal["docker-hub"] = "docker-hub"
    """The upstream registry (Artifact Registry's public DOCKER_HUB). Default: docker-hub."""
    credentials: ArtifactRegistryUpstreamCredentials | None = None
    """Docker Hub login (authenticated pulls get Hub's higher rate limit). Default: anonymous."""
    readers: Members = []
    """IAM principals granted roles/artifactregistry.reader. Default: none."""
    labels: Labels = {}
    """Labels. Default: none."""
    retention: RetentionSpec | None = None
    """Which cached images the cleanup policies delete. Default: none."""


class ArtifactRegistryVirtualUpstream(CamelModel):
    """One repository a virtual repository reads from."""

    repository: RepositoryId
    """A repository or mirror declared in this section."""
    priority: int = Field(ge=1, le=1_000_000)
    """Pull order: the upstream with the greater priority is tried first."""


class ArtifactRegistryVirtual(CamelModel):
    """A VIRTUAL repository: one pull path over several repositories and mirrors, in priority order."""

    name: RepositoryId
    """Repository id of the virtual repository."""
    description: str = Field(default="", max_length=2048)
    """Description. Default: empty."""
    upstreams: list[ArtifactRegistryVirtualUpstream] = Field(min_length=1, max_length=20)
    """The repositories it reads from (1-20), each with a distinct priority."""
    readers: Members = []
    """IAM principals granted roles/artifactregistry.reader. Default: none."""
    labels: Labels = {}
    """Labels. Default: none."""


class ArtifactRegistryOidc(CamelModel):
    """Pub/Sub signs each push with an OIDC token of this service account; the receiver verifies it."""

    service_account_email: Annotated[
        str, pattern(SERVICE_ACCOUNT_EMAIL, "must be a service account email, e.g. hooks@p.iam.gserviceaccount.com")
    ]
    """The service account whose identity the tokens carry."""
    audience: str | None = Field(default=None, min_length=1)
    """The token's audience. Default: the push URL."""


class ArtifactRegistryNotification(CamelModel):
    """Artifact Registry's Docker events (INSERT, DELETE of images and tags), pushed by Pub/Sub to a URL."""

    name: Annotated[
        str, pattern(NOTIFICATION_NAME, "must be 3-32 lowercase letters, digits and -, starting with a letter")
    ]
    """Name of the notification; the push subscription is gcr-<name>."""
    url: SecretStr
    """The receiver's https:// URL (a secret: without oidc it must carry a token in its query string)."""
    oidc: ArtifactRegistryOidc | None = None
    """Authenticate pushes with an OIDC token: {serviceAccountEmail, audience}. Default: none (the URL's token)."""
    max_delivery_attempts: int = Field(default=5, ge=5, le=100)
    """Deliveries before a message goes to the dead-letter topic gcr-dead-letters (5-100). Default: 5."""


class ArtifactRegistryGithubOidc(CamelModel):
    """GitHub Actions of one repository impersonate the CI service account through Workload Identity Federation."""

    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """The GitHub repository, owner/name."""
    refs: list[str] = Field(min_length=1)
    """Git refs whose workflows may push: refs/heads/<branch> or refs/tags/<tag>, `*` allowed."""
    pool_id: Annotated[
        str, pattern(POOL_ID, "must be 4-32 lowercase letters, digits and -, starting with a letter")
    ] = "github"
    """Workload identity pool id (a deleted pool's id stays taken for 30 days). Default: github."""

    @field_validator("refs")
    @classmethod
    def _refs(cls, refs: list[str]) -> list[str]:
        for index, ref in enumerate(refs):
            if problem := github_ref_problem(ref):
                raise ValueError(f"[{index}] {problem}")
        return unique(refs)


class ArtifactRegistryCi(CamelModel):
    """A service account that may push to every standard repository of this section."""

    service_account_id: Annotated[
        str, pattern(SERVICE_ACCOUNT_ID, "must be 6-30 lowercase letters, digits and -, starting with a letter")
    ] = "registry-ci"
    """Account id of the CI service account (<id>@<project>.iam.gserviceaccount.com). Default: registry-ci."""
    github_oidc: ArtifactRegistryGithubOidc | None = None
    """GitHub Actions through Workload Identity Federation: {repository, refs, poolId}. Default: none."""


class ArtifactRegistrySpec(CamelModel):
    """Google Artifact Registry: Docker repositories of one project and location."""

    project: Annotated[str, pattern(PROJECT_ID, "must be a Google Cloud project id (6-30 of [a-z0-9-])")]
    """Google Cloud project id."""
    location: Annotated[
        str,
        pattern(LOCATION, "must be an Artifact Registry location: a region such as europe-west1, or us/europe/asia"),
    ]
    """Location of the repositories, mirrors and virtual repositories, e.g. europe-west1."""
    project_number: Annotated[str, pattern(PROJECT_NUMBER, "must be the project's number (digits)")] | None = None
    """The project's number, naming the Google service agents granted access (mirror secrets, dead letters).
    Default: looked up from the project (organizations.getProject)."""
    defaults: ArtifactRegistryRepositorySettings = ArtifactRegistryRepositorySettings()
    """Settings every repository and gcr.io-named repository inherits."""
    repositories: list[ArtifactRegistryRepositorySpec] = []
    """Standard Docker repositories: [{name, description, ...overrides}]. Default: none."""
    gcr_domains: Annotated[
        list[Literal["gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io"]], AfterValidator(unique)
    ] = []
    """Container Registry hosts to keep serving (gcr.io/<project>/<image>): each becomes a repository of that name in
    its multi-region (gcr.io, us.gcr.io: us; eu.gcr.io: europe; asia.gcr.io: asia), with `defaults`. Default: none."""
    mirrors: list[ArtifactRegistryMirror] = []
    """Docker Hub mirrors (REMOTE repositories). Default: none."""
    virtual: list[ArtifactRegistryVirtual] = []
    """Virtual repositories over declared repositories and mirrors. Default: none."""
    cleanup_dry_run: bool = False
    """Evaluate cleanup policies without deleting anything (Artifact Registry logs what it would delete).
    Default: false."""
    notifications: list[ArtifactRegistryNotification] = []
    """Push subscriptions of the project's `gcr` topic, where Artifact Registry publishes Docker events.
    Default: none."""
    create_gcr_topic: bool = True
    """Declare the `gcr` topic; false when the project already has it (e.g. from Container Registry).
    Default: true."""
    ci: ArtifactRegistryCi | None = None
    """A CI service account with push access: {serviceAccountId, githubOidc}. Default: none."""
    signing: SigningSpec | None = None
    """Keys CI signs this project's images with (cosign key pair, Notation certificate chain), handed out as the
    output signing.artifactRegistry, private keys as secrets; the commands name images as
    <location>-docker.pkg.dev/<project>/<repository>/<image>. Default: none."""

    def effective(self, repository: ArtifactRegistryRepositorySpec) -> ArtifactRegistryRepositorySettings:
        """The settings of `repository`: its own keys over `defaults`."""
        keys = set(ArtifactRegistryRepositorySettings.model_fields)
        overrides = {key: getattr(repository, key) for key in repository.model_fields_set & keys}
        return self.defaults.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def retention_intent(retention: RetentionSpec | None) -> RetentionIntent | None:
    """The retention intent, or None when it deletes nothing (no cleanup policies)."""
    if retention is None:
        return None
    intent = retention.intent()
    return None if intent.is_empty else intent


def _url_problem(url: str, oidc: bool) -> str | None:
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS
    if (parts.hostname or "").endswith(".invalid"):
        return None  # a reserved name no receiver has: registryctl's stand-in for a value encrypted in the stack file
    if not (parts.scheme == "https" or loopback) or not parts.hostname or " " in url:
        return "must be an https:// URL (http:// only to 127.0.0.1/localhost, which only the Pub/Sub emulator reaches)"
    if not oidc and not parts.query:
        return (
            "without oidc, must carry a secret token in its query string (https://hooks.example.com/ar?token=...): "
            "Pub/Sub pushes are otherwise unauthenticated"
        )
    return None


def _immutable_tagged_days_problems(spec: ArtifactRegistrySpec, stack: str) -> list[ConfigProblem]:
    """taggedDays compiles to a DELETE TAGGED cleanup policy; Artifact Registry cannot delete an image whose tags are
    immutable, so on such a repository the policy (and the simulator) would promise deletions that never happen."""
    production = is_production_stack(stack)
    owners: list[tuple[str, str, RetentionSpec | None, ArtifactRegistryRepositorySettings]] = [
        (
            f"{ROOT}.repositories[{i}]" if r.retention is not None else f"{ROOT}.defaults (inherited by {r.name})",
            r.name,
            r.retention if r.retention is not None else spec.defaults.retention,
            spec.effective(r),
        )
        for i, r in enumerate(spec.repositories)
    ]
    owners += [
        (f"{ROOT}.defaults (inherited by {d})", d, spec.defaults.retention, spec.defaults) for d in spec.gcr_domains
    ]
    problems = []
    for where, name, retention, settings in owners:
        immutable = settings.immutable_tags if settings.immutable_tags is not None else production
        intent = retention_intent(retention)
        if immutable and intent is not None and intent.tagged_days is not None:
            why = "immutableTags: true" if settings.immutable_tags else "the default on prod stacks"
            problems.append(
                ConfigProblem(
                    f"{where}.retention.taggedDays",
                    str(intent.tagged_days),
                    f"repository {name} has immutable tags ({why}): Artifact Registry cannot delete a tagged image "
                    "there, so this cleanup policy would never delete what it promises; set immutableTags: false on "
                    "the repository or drop taggedDays (untaggedDays still applies)",
                )
            )
    return problems


def artifact_registry_problems(spec: ArtifactRegistrySpec, stack: str) -> list[ConfigProblem]:
    """What only the whole section can tell: names, inherited keys, retention Artifact Registry cannot express (or
    cannot carry out on immutable tags), references between repositories, notification URLs."""
    problems: list[ConfigProblem] = []
    if not (spec.repositories or spec.gcr_domains or spec.mirrors or spec.virtual or spec.notifications):
        problems.append(
            ConfigProblem(
                ROOT, "nothing", "declare at least one of repositories, gcrDomains, mirrors, virtual, notifications"
            )
        )
    names = [
        *((f"repositories[{i}].name", r.name) for i, r in enumerate(spec.repositories)),
        *((f"mirrors[{i}].name", m.name) for i, m in enumerate(spec.mirrors)),
        *((f"virtual[{i}].name", v.name) for i, v in enumerate(spec.virtual)),
    ]
    for index in repeated(name for _, name in names):
        where, name = names[index]
        problems.append(
            ConfigProblem(
                f"{ROOT}.{where}",
                repr(name),
                "repeats a repository name (repositories, mirrors and virtual share one namespace per location)",
            )
        )
    settings_at: list[tuple[str, str, ArtifactRegistryRepositorySettings, str]] = [
        (f"{ROOT}.repositories[{i}]", r.name, spec.effective(r), spec.location) for i, r in enumerate(spec.repositories)
    ]
    settings_at += [
        (f"{ROOT}.defaults (inherited by {domain})", domain, spec.defaults, GCR_DOMAIN_LOCATIONS[domain])
        for domain in spec.gcr_domains
    ]
    for where, name, settings, location in settings_at:
        key = settings.kms_key_name
        if key is not None and (match := KMS_KEY.fullmatch(key)) and match.group(2) != location:
            problems.append(
                ConfigProblem(
                    f"{where}.kmsKeyName",
                    repr(key),
                    f"must be a key in the repository's location {location!r} (repository {name}); Artifact Registry "
                    "refuses a key elsewhere",
                )
            )
        for index, member in enumerate(settings.writers):
            if member in PUBLIC_MEMBERS:
                problems.append(
                    ConfigProblem(f"{where}.writers[{index}]", repr(member), "anyone could push; name principals")
                )
    retentions: list[tuple[str, RetentionSpec | None]] = [(f"{ROOT}.defaults.retention", spec.defaults.retention)]
    retentions += [
        (f"{ROOT}.repositories[{i}].retention", r.retention)
        for i, r in enumerate(spec.repositories)
        if r.retention is not None
    ]
    retentions += [(f"{ROOT}.mirrors[{i}].retention", m.retention) for i, m in enumerate(spec.mirrors)]
    for where, retention in retentions:
        intent = retention_intent(retention)
        if intent is not None:
            # Signed images live in the standard repositories; a mirror caches its upstream's.
            signed = spec.signing is not None and ".mirrors[" not in where
            try:
                compile_cleanup_policies(intent, referrers=signed)
            except PolicyError as error:
                problems.append(
                    ConfigProblem(
                        f"{where}.{error.where}", "this rule", f"Artifact Registry cannot express it: {error.problem}"
                    )
                )
    problems += _immutable_tagged_days_problems(spec, stack)
    upstream_names = {r.name for r in spec.repositories} | {m.name for m in spec.mirrors}
    for index, virtual in enumerate(spec.virtual):
        repos = [u.repository for u in virtual.upstreams]
        priorities = [u.priority for u in virtual.upstreams]
        for up_index, upstream in enumerate(virtual.upstreams):
            where = f"{ROOT}.virtual[{index}].upstreams[{up_index}]"
            if upstream.repository not in upstream_names:
                problems.append(
                    ConfigProblem(
                        f"{where}.repository",
                        repr(upstream.repository),
                        f"must be one of the declared repositories or mirrors: {sorted(upstream_names)}",
                    )
                )
        upstreams = f"{ROOT}.virtual[{index}].upstreams"
        problems += repeated_problems(upstreams + "[{}].repository", repos, "repeats an upstream")
        problems += repeated_problems(
            upstreams + "[{}].priority",
            priorities,
            "repeats a priority; give each upstream its own so the pull order is defined",
        )
    notification_names = [hook.name for hook in spec.notifications]
    problems += repeated_problems(ROOT + ".notifications[{}].name", notification_names, "repeats a name")
    for index, hook in enumerate(spec.notifications):
        # The URL is a secret: the problem never shows it.
        if problem := _url_problem(hook.url.get_secret_value(), hook.oidc is not None):
            problems.append(ConfigProblem(f"{ROOT}.notifications[{index}].url", "a secret value (not shown)", problem))
    return problems


def secret_value_paths(spec: ArtifactRegistrySpec) -> list[str]:
    """The keys of `registries:artifactRegistry` holding secrets (notification URLs carry the receiver's token)."""
    return [f"{ROOT}.notifications[{i}].url" for i, _ in enumerate(spec.notifications)]


__all__ = [
    "GCR_DOMAIN_LOCATIONS",
    "ArtifactRegistryRepositorySettings",
    "ArtifactRegistryRepositorySpec",
    "ArtifactRegistrySpec",
    "artifact_registry_problems",
    "retention_intent",
    "secret_value_paths",
]
