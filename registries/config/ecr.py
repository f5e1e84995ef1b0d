"""The `registries:ecr` config: AWS ECR repositories that inherit shared defaults, validated before any resource."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator
from pydantic.alias_generators import to_snake

from components.ecr_names import (
    MAX_MUTABLE_TAG_FILTERS,
    PRINCIPAL,
    PTC_PREFIX,
    REGION,
    REPLICATION_FILTER,
    REPOSITORY_NAME,
    SCAN_FILTER,
    tag_filter_problem,
)
from components.github_refs import github_ref_problem
from components.retention.ecr import lifecycle_policy_text
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
from registries.config.selfhosted import _kms_key_arn_in as kms_key_arn_in  # the S3 storage's key-ARN rule, shared
from registries.config.signing import SigningSpec


def _check_region(value: str) -> str:
    if not REGION.fullmatch(value):
        raise ValueError("must be an AWS region name such as eu-west-1 or us-east-1")
    return value


def _check_filter(value: str) -> str:
    if problem := tag_filter_problem(value):
        raise ValueError(problem)
    return value


def _check_principal(value: str) -> str:
    if not PRINCIPAL.fullmatch(value):
        raise ValueError(
            "must be a 12-digit account id or an IAM ARN arn:aws:iam::<account>:root|user/<name>|role/<name>"
        )
    return value


def _check_repository_name(value: str) -> str:
    if not (2 <= len(value) <= 256 and REPOSITORY_NAME.fullmatch(value)):
        raise ValueError(
            "must be 2-256 characters: lowercase letters and digits, separated by one of . _ - or by / (e.g. team/api)"
        )
    return value


# Pull-through cache upstreams: config name -> (registry URL, credentials: required | optional | none).
PTC_UPSTREAMS: dict[str, tuple[str, str]] = {
    "docker-hub": ("registry-1.docker.io", "required"),
    "github-container-registry": ("ghcr.io", "required"),
    "gitlab-container-registry": ("registry.gitlab.com", "required"),
    "quay": ("quay.io", "optional"),
    "ecr-public": ("public.ecr.aws", "none"),
    "registry.k8s.io": ("registry.k8s.io", "none"),
}
ACCOUNT_ID = re.compile(r"[0-9]{12}")
REGISTRY_SETTINGS_KEYS = ("scanning", "replication", "replicationSources", "pullThroughCache")


Region = Annotated[str, AfterValidator(_check_region)]
AccountId = Annotated[str, pattern(ACCOUNT_ID, "must be a 12-digit AWS account id, e.g. 111122223333")]
MutableTagFilter = Annotated[str, AfterValidator(_check_filter)]
Principal = Annotated[str, AfterValidator(_check_principal)]
RepositoryName = Annotated[str, AfterValidator(_check_repository_name)]


class EcrEncryption(CamelModel):
    """How ECR encrypts image layers at rest."""

    kind: Literal["aes256", "kms"] = "aes256"
    """aes256: S3-managed keys; kms: AWS KMS (kmsKeyId, or the AWS-managed key aws/ecr). Default: aes256."""
    kms_key_id: str | None = Field(default=None, min_length=1)
    """KMS key ARN in the registry's region (arn:aws:kms:<region>:<account>:key/<id>; ECR reads back the ARN, so an
    id or alias would replace the repository on every up); only with kind kms. Default: the AWS-managed key."""

    @model_validator(mode="after")
    def _kms_key_only_with_kms(self) -> EcrEncryption:
        if self.kms_key_id is not None and self.kind != "kms":
            raise ValueError("kmsKeyId is only allowed with kind: kms")
        return self


class EcrRepositorySettings(CamelModel):
    """What every repository inherits from `defaults` and may override."""

    immutable_tags: bool = True
    """Tags cannot be overwritten (IMMUTABLE; IMMUTABLE_WITH_EXCLUSION when mutableTags is set). Default: true."""
    mutable_tags: Annotated[list[MutableTagFilter], AfterValidator(unique)] = Field(
        default=[], max_length=MAX_MUTABLE_TAG_FILTERS
    )
    """Tags that stay mutable on an immutable repository: ECR wildcard filters (at most 2 `*`), at most 5.
    Default: none."""
    scan_on_push: bool = True
    """Scan each image for vulnerabilities when it is pushed. Default: true."""
    encryption: EcrEncryption = EcrEncryption()
    """Encryption at rest: {kind: aes256} or {kind: kms, kmsKeyId}; changing it replaces the repository.
    Default: aes256."""
    retention: RetentionSpec | None = None
    """Which images the lifecycle policy deletes (see Retention in README). Default: none (no lifecycle policy)."""
    readers: Annotated[list[Principal], AfterValidator(unique)] = []
    """Account ids or IAM principal ARNs allowed to pull. Default: none (only the account's own IAM policies)."""
    writers: Annotated[list[Principal], AfterValidator(unique)] = []
    """Account ids or IAM principal ARNs allowed to push and pull. Default: none."""
    lambda_readers: bool = False
    """Let AWS Lambda (lambda.amazonaws.com, this account only) pull images for functions. Default: false."""
    force_delete: bool = False
    """Deleting the repository deletes its images too; refused on prod stacks. Default: false (destroy keeps a
    repository that holds images and fails on it)."""


class EcrRepositorySpec(CamelModel):
    """One repository; every key but `name` overrides the same key of `defaults`."""

    name: RepositoryName
    """Repository name, e.g. team/api (lowercase; / separates a namespace)."""
    immutable_tags: bool | None = None
    """Overrides defaults.immutableTags."""
    mutable_tags: Annotated[list[MutableTagFilter], AfterValidator(unique)] | None = Field(
        default=None, max_length=MAX_MUTABLE_TAG_FILTERS
    )
    """Overrides defaults.mutableTags ([] for none)."""
    scan_on_push: bool | None = None
    """Overrides defaults.scanOnPush."""
    encryption: EcrEncryption | None = None
    """Overrides defaults.encryption."""
    retention: RetentionSpec | None = None
    """Overrides defaults.retention as a whole ({} for no lifecycle policy)."""
    readers: Annotated[list[Principal], AfterValidator(unique)] | None = None
    """Overrides defaults.readers ([] for none)."""
    writers: Annotated[list[Principal], AfterValidator(unique)] | None = None
    """Overrides defaults.writers ([] for none)."""
    lambda_readers: bool | None = None
    """Overrides defaults.lambdaReaders."""
    force_delete: bool | None = None
    """Overrides defaults.forceDelete."""


class EcrScanning(CamelModel):
    """Registry-wide image scanning (RegistryScanningConfiguration)."""

    type: Literal["BASIC", "ENHANCED"] = "BASIC"
    """BASIC (ECR's own scanner) or ENHANCED (Amazon Inspector, billed per image). Default: BASIC."""
    continuous: list[Annotated[str, pattern(SCAN_FILTER, "must be a repository name filter ([a-z0-9._/-] and *)")]] = []
    """Repositories scanned continuously (ENHANCED only): wildcard filters such as team/*. Default: none."""
    on_push: list[Annotated[str, pattern(SCAN_FILTER, "must be a repository name filter ([a-z0-9._/-] and *)")]] = []
    """Repositories scanned on push: wildcard filters. Default: none (each repository's scanOnPush applies)."""

    @model_validator(mode="after")
    def _continuous_needs_enhanced(self) -> EcrScanning:
        if self.continuous and self.type != "ENHANCED":
            raise ValueError(f"continuous {self.continuous} needs type: ENHANCED (BASIC scans on push or manually)")
        return self


class EcrReplicationDestination(CamelModel):
    """Where images are copied to."""

    region: Region
    """Destination region."""
    registry_id: str | None = Field(default=None, pattern=r"^[0-9]{12}$")
    """Destination account id (12 digits). Another account must allow this one: its stack declares
    replicationSources: [{account: <this account>}] (README: AWS ECR). Default: this one."""


class EcrReplicationRule(CamelModel):
    """One replication rule: repositories whose names start with a filter go to every destination."""

    destinations: list[EcrReplicationDestination] = Field(min_length=1, max_length=25)
    """Where to replicate (1-25)."""
    filters: list[Annotated[str, pattern(REPLICATION_FILTER, "must be a repository name prefix ([a-z0-9._/-])")]] = (
        Field(default=[], max_length=100)
    )
    """Repository name prefixes (e.g. team/). Default: every repository."""


class EcrReplicationSource(CamelModel):
    """Another account whose replication rules may copy images into this registry (this account is their
    destination): the registry policy allows it ecr:CreateRepository and ecr:ReplicateImage here."""

    account: AccountId
    """The source account id (12 digits)."""
    prefixes: list[Annotated[str, pattern(REPLICATION_FILTER, "must be a repository name prefix ([a-z0-9._/-])")]] = (
        Field(default=[], max_length=100)
    )
    """Repository name prefixes it may create and replicate into (e.g. team/). Default: every repository."""


class EcrCredentials(CamelModel):
    """Upstream registry credentials, stored in Secrets Manager as ecr-pullthroughcache/<prefix>."""

    username: str = Field(min_length=1)
    """Upstream user name."""
    token: SecretStr
    """Upstream access token or password. Set it as a secret (pulumi config set --secret --path ...)."""


class EcrPullThroughCache(CamelModel):
    """A pull-through cache rule: `docker pull <registry>/<prefix>/<image>` fetches from the upstream."""

    prefix: Annotated[str, pattern(PTC_PREFIX, "must be lowercase letters and digits separated by . _ -")] = Field(
        min_length=2, max_length=30
    )
    """Repository name prefix of the cached images (2-30 characters), e.g. dockerhub."""
    upstream: Literal[
        "docker-hub", "github-container-registry", "gitlab-container-registry", "quay", "ecr-public", "registry.k8s.io"
    ]
    """Upstream registry."""
    credentials: EcrCredentials | None = None
    """Required for docker-hub, github-container-registry and gitlab-container-registry; optional for quay; not
    allowed for ecr-public and registry.k8s.io."""


class EcrAuthHeader(CamelModel):
    """The header EventBridge sends with each notification (its value lives in the connection's managed secret)."""

    name: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$")
    """Header name, e.g. X-Hook-Token."""
    token: SecretStr
    """Header value. Set it as a secret (pulumi config set --secret --path ...)."""


class EcrNotification(CamelModel):
    """Push, delete and scan events of the repositories, POSTed by EventBridge to a URL."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    """Name of the notification (lowercase letters, digits, -), part of the resource names."""
    url: SecretStr
    """HTTPS endpoint receiving the events (a secret: it often carries a token)."""
    events: list[Literal["push", "delete", "scan"]] = Field(min_length=1)
    """push and delete: successful image actions; scan: completed image scans."""
    auth_header: EcrAuthHeader
    """Header that authenticates EventBridge to the receiver: {name, token}."""
    repositories: list[str] = []
    """Which of the declared repositories; default: all."""


class EcrGithubOidc(CamelModel):
    """A role GitHub Actions assumes through OIDC (no stored AWS keys) to push to the declared repositories."""

    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """The GitHub repository, owner/name."""
    refs: list[str] = Field(min_length=1)
    """Git refs whose workflows may assume the role: refs/heads/<branch> or refs/tags/<tag>, `*` allowed."""
    create_provider: bool = False
    """Declare the account's GitHub OIDC provider (once per account). Default: false (it exists)."""

    @field_validator("refs")
    @classmethod
    def _refs(cls, refs: list[str]) -> list[str]:
        for index, ref in enumerate(refs):
            if problem := github_ref_problem(ref):
                raise ValueError(f"[{index}] {problem}")
        for index in repeated(refs):
            raise ValueError(f"[{index}] repeats {refs[index]!r}")
        return refs


class EcrCi(CamelModel):
    """CI access to the repositories."""

    github_oidc: EcrGithubOidc | None = None
    """GitHub Actions through OIDC: {repository, refs, createProvider}. Default: none."""


class EcrSpec(CamelModel):
    """AWS ECR: private repositories in one account and region."""

    region: Region
    """AWS region of the registry, e.g. eu-west-1."""
    account_id: AccountId | None = None
    """The account the AWS credentials deploy to (12 digits), to check replication settings against before
    anything is declared (not checked against the credentials). Default: unknown."""
    defaults: EcrRepositorySettings = EcrRepositorySettings()
    """Settings every repository inherits (each repository may override any of them)."""
    repositories: list[EcrRepositorySpec] = Field(min_length=1)
    """The repositories, at least one: [{name, ...overrides}]."""
    manage_registry_settings: bool = False
    """Declare the account-wide singletons below (one stack per account and region may own them). Default: false."""
    scanning: EcrScanning | None = None
    """Registry scanning (needs manageRegistrySettings). Default: unmanaged."""
    replication: list[EcrReplicationRule] = Field(default=[], max_length=10)
    """Replication rules, at most 10 (needs manageRegistrySettings). Default: none."""
    replication_sources: list[EcrReplicationSource] = []
    """Accounts allowed to replicate into this registry: [{account, prefixes}] becomes the region's registry policy
    (needs manageRegistrySettings; it replaces any registry policy set by hand). Default: none."""
    ci: EcrCi = EcrCi()
    """CI roles. Default: none."""
    notifications: list[EcrNotification] = []
    """EventBridge notifications of image pushes, deletes and scans to HTTPS endpoints. Default: none."""
    pull_through_cache: list[EcrPullThroughCache] = []
    """Pull-through cache rules, each with a creation template carrying `defaults` (needs manageRegistrySettings).
    Default: none."""
    signing: SigningSpec | None = None
    """Keys CI signs this registry's images with (cosign key pair, Notation certificate chain), handed out as the
    output signing.ecr, private keys as secrets. Default: none."""

    def effective(self, repository: EcrRepositorySpec) -> EcrRepositorySettings:
        """The settings of `repository`: its own keys over `defaults`."""
        overrides = {key: getattr(repository, key) for key in repository.model_fields_set if key != "name"}
        return self.defaults.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def retention_intent(settings: EcrRepositorySettings) -> RetentionIntent | None:
    """The retention intent of a repository, or None when it deletes nothing (no lifecycle policy)."""
    if settings.retention is None:
        return None
    intent = settings.retention.intent()
    return None if intent.is_empty else intent


def ecr_problems(spec: EcrSpec, stack: str) -> list[ConfigProblem]:
    """What only the whole section can tell: inherited combinations, prod rules, what ECR cannot express."""
    root = "registries:ecr"
    problems: list[ConfigProblem] = []
    production = is_production_stack(stack)
    names = [repo.name for repo in spec.repositories]
    problems += repeated_problems(root + ".repositories[{}].name", names, "repeats a name; each repository once")
    encryptions = [(f"{root}.defaults", spec.defaults.encryption)]
    encryptions += [
        (f"{root}.repositories[{index}]", repo.encryption)
        for index, repo in enumerate(spec.repositories)
        if "encryption" in repo.model_fields_set and repo.encryption is not None
    ]
    for where, encryption in encryptions:
        key = encryption.kms_key_id
        if key is not None and not kms_key_arn_in(key, spec.region):
            problems.append(
                ConfigProblem(
                    f"{where}.encryption.kmsKeyId",
                    repr(key),
                    f"a key ARN in the registry's region (arn:aws:kms:{spec.region}:<account>:key/<id>), not an id"
                    " or alias: ECR reads back the ARN, and any other spelling replaces the repository on every up",
                )
            )
    for index, repo in enumerate(spec.repositories):
        settings = spec.effective(repo)
        where = f"{root}.repositories[{index}]"
        own = repo.model_fields_set

        def origin(key: str, camel: str, where: str = where, own: set[str] = own, name: str = repo.name) -> str:
            return f"{where}.{camel}" if key in own else f"{root}.defaults.{camel} (inherited by {name})"

        if settings.mutable_tags and not settings.immutable_tags:
            problems.append(
                ConfigProblem(
                    origin("mutable_tags", "mutableTags"),
                    repr(settings.mutable_tags),
                    "only allowed with immutableTags: true (a mutable repository has no exclusions)",
                )
            )
        if settings.force_delete and production:
            problems.append(
                ConfigProblem(
                    origin("force_delete", "forceDelete"),
                    "true",
                    f"must be false on prod stacks (stack {stack!r}): it deletes the images with the repository",
                )
            )
        intent = retention_intent(settings)
        if intent is not None:
            try:
                lifecycle_policy_text(intent, referrers=spec.signing is not None)
            except PolicyError as error:
                path = origin("retention", "retention")
                problems.append(
                    ConfigProblem(f"{path}.{error.where}", "this rule", f"ECR cannot express it: {error.problem}")
                )
    problems.extend(_registry_settings_problems(spec))
    return problems


def _registry_settings_problems(spec: EcrSpec) -> list[ConfigProblem]:
    root = "registries:ecr"
    problems: list[ConfigProblem] = []
    declared = [key for key in REGISTRY_SETTINGS_KEYS if getattr(spec, to_snake(key))]
    if declared and not spec.manage_registry_settings:
        for key in declared:
            problems.append(
                ConfigProblem(
                    f"{root}.{key}",
                    "a value",
                    "needs manageRegistrySettings: true; it is one setting per account and region, so exactly one "
                    "stack may own it (two would overwrite each other)",
                )
            )
    for index, rule in enumerate(spec.replication):
        for dest_index, destination in enumerate(rule.destinations):
            own_account = destination.registry_id in (None, spec.account_id)
            if destination.region == spec.region and own_account:
                problems.append(
                    ConfigProblem(
                        f"{root}.replication[{index}].destinations[{dest_index}].region",
                        repr(destination.region),
                        "is this registry's own region and account; replicate to another region or set registryId",
                    )
                )
    accounts = [source.account for source in spec.replication_sources]
    problems += repeated_problems(
        root + ".replicationSources[{}].account",
        accounts,
        "repeats an account; declare each source account once (list its prefixes together)",
    )
    for index, account in enumerate(accounts):
        if account == spec.account_id:
            problems.append(
                ConfigProblem(
                    f"{root}.replicationSources[{index}].account",
                    repr(account),
                    "is this stack's own account (accountId); replication within an account needs no registry "
                    "policy, name other accounts only",
                )
            )
    prefixes = [rule.prefix for rule in spec.pull_through_cache]
    problems += repeated_problems(root + ".pullThroughCache[{}].prefix", prefixes, "repeats a prefix")
    for index, rule in enumerate(spec.pull_through_cache):
        # Checked here, not in a model validator: a model's error would echo the whole object, token included.
        needs = PTC_UPSTREAMS[rule.upstream][1]
        where = f"{root}.pullThroughCache[{index}].credentials"
        if needs == "required" and rule.credentials is None:
            problems.append(
                ConfigProblem(where, "nothing", f"required for upstream {rule.upstream}: {{username, token}}")
            )
        if needs == "none" and rule.credentials is not None:
            problems.append(
                ConfigProblem(where, "a value", f"not allowed for upstream {rule.upstream} (public, no login)")
            )
    problems.extend(_notification_problems(spec))
    return problems


def _notification_problems(spec: EcrSpec) -> list[ConfigProblem]:
    root = "registries:ecr.notifications"
    problems: list[ConfigProblem] = []
    declared = {repo.name for repo in spec.repositories}
    notification_names = [hook.name for hook in spec.notifications]
    problems += repeated_problems(root + "[{}].name", notification_names, "repeats a name")
    for index, hook in enumerate(spec.notifications):
        # The URL is a secret: the problem never shows it.
        if not hook.url.get_secret_value().startswith("https://"):
            problems.append(
                ConfigProblem(f"{root}[{index}].url", "a secret value (not shown)", "must be an https:// URL")
            )
        problems += repeated_problems(f"{root}[{index}]" + ".events[{}]", hook.events, "repeats an event")
        for repo_index, name in enumerate(hook.repositories):
            if name not in declared:
                problems.append(
                    ConfigProblem(
                        f"{root}[{index}].repositories[{repo_index}]",
                        repr(name),
                        "must be one of the declared repositories",
                    )
                )
    return problems


def secret_value_paths(spec: EcrSpec) -> list[str]:
    """The keys of `registries:ecr` holding secrets (hook URLs and tokens, upstream tokens)."""
    root = "registries:ecr"
    paths = [f"{root}.notifications[{i}].url" for i, _ in enumerate(spec.notifications)]
    paths += [f"{root}.notifications[{i}].authHeader.token" for i, _ in enumerate(spec.notifications)]
    paths += [
        f"{root}.pullThroughCache[{i}].credentials.token"
        for i, rule in enumerate(spec.pull_through_cache)
        if rule.credentials is not None
    ]
    return paths


__all__ = [
    "EcrEncryption",
    "EcrReplicationSource",
    "EcrRepositorySettings",
    "EcrRepositorySpec",
    "EcrSpec",
    "ecr_problems",
    "retention_intent",
    "secret_value_paths",
]
