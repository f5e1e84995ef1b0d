"""The `registries:ecr` config: AWS ECR repositories that inherit shared defaults, validated before any resource."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from components.retention.ecr import lifecycle_policy_text
from components.retention.model import PolicyError, RetentionIntent
from schema.base import CamelModel, ConfigProblem, repeated
from schema.retention import RetentionSpec

# AWS region names: partition prefix, geography, number (us-east-1, eu-central-2, us-gov-west-1, cn-north-1).
REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}")
# ECR's repository name pattern (CreateRepository API), 2 to 256 characters.
REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
# ECR's exclusion filter pattern: [0-9a-zA-Z._*-]{1,128}, at most 2 `*` wildcards (pulumi-aws docs).
MUTABLE_TAG_FILTER = re.compile(r"[0-9a-zA-Z._*-]{1,128}")
MAX_FILTER_WILDCARDS = 2
MAX_MUTABLE_TAG_FILTERS = 5
# An account id, or an IAM principal ARN (account root, user, role) in any partition.
PRINCIPAL = re.compile(r"[0-9]{12}|arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(root|(user|role)/[\w+=,.@/-]{1,512})")


def _check_region(value: str) -> str:
    if not REGION.fullmatch(value):
        raise ValueError("must be an AWS region name such as eu-west-1 or us-east-1")
    return value


def _check_filter(value: str) -> str:
    if not MUTABLE_TAG_FILTER.fullmatch(value):
        raise ValueError("must be 1-128 of the characters [0-9A-Za-z._*-] (ECR wildcard filter, not a regex)")
    if value.count("*") > MAX_FILTER_WILDCARDS:
        raise ValueError(f"may contain at most {MAX_FILTER_WILDCARDS} `*` wildcards")
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


Region = Annotated[str, AfterValidator(_check_region)]
MutableTagFilter = Annotated[str, AfterValidator(_check_filter)]
Principal = Annotated[str, AfterValidator(_check_principal)]
RepositoryName = Annotated[str, AfterValidator(_check_repository_name)]


class EcrEncryption(CamelModel):
    """How ECR encrypts image layers at rest."""

    kind: Literal["aes256", "kms"] = "aes256"
    """aes256: S3-managed keys; kms: AWS KMS (kmsKeyId, or the AWS-managed key aws/ecr). Default: aes256."""
    kms_key_id: str | None = Field(default=None, min_length=1)
    """KMS key ARN, id or alias (alias/registry); only with kind kms. Default: the AWS-managed key."""

    @model_validator(mode="after")
    def _kms_key_only_with_kms(self) -> EcrEncryption:
        if self.kms_key_id is not None and self.kind != "kms":
            raise ValueError("kmsKeyId is only allowed with kind: kms")
        return self


def _unique(values: list[str]) -> list[str]:
    for index in repeated(values):
        raise ValueError(f"[{index}] repeats {values[index]!r}; each entry may appear once")
    return values


class EcrRepositorySettings(CamelModel):
    """What every repository inherits from `defaults` and may override."""

    immutable_tags: bool = True
    """Tags cannot be overwritten (IMMUTABLE; IMMUTABLE_WITH_EXCLUSION when mutableTags is set). Default: true."""
    mutable_tags: Annotated[list[MutableTagFilter], AfterValidator(_unique)] = Field(
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
    readers: Annotated[list[Principal], AfterValidator(_unique)] = []
    """Account ids or IAM principal ARNs allowed to pull. Default: none (only the account's own IAM policies)."""
    writers: Annotated[list[Principal], AfterValidator(_unique)] = []
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
    mutable_tags: Annotated[list[MutableTagFilter], AfterValidator(_unique)] | None = Field(
        default=None, max_length=MAX_MUTABLE_TAG_FILTERS
    )
    """Overrides defaults.mutableTags ([] for none)."""
    scan_on_push: bool | None = None
    """Overrides defaults.scanOnPush."""
    encryption: EcrEncryption | None = None
    """Overrides defaults.encryption."""
    retention: RetentionSpec | None = None
    """Overrides defaults.retention as a whole ({} for no lifecycle policy)."""
    readers: Annotated[list[Principal], AfterValidator(_unique)] | None = None
    """Overrides defaults.readers ([] for none)."""
    writers: Annotated[list[Principal], AfterValidator(_unique)] | None = None
    """Overrides defaults.writers ([] for none)."""
    lambda_readers: bool | None = None
    """Overrides defaults.lambdaReaders."""
    force_delete: bool | None = None
    """Overrides defaults.forceDelete."""


class EcrSpec(CamelModel):
    """AWS ECR: private repositories in one account and region."""

    region: Region
    """AWS region of the registry, e.g. eu-west-1."""
    defaults: EcrRepositorySettings = EcrRepositorySettings()
    """Settings every repository inherits (each repository may override any of them)."""
    repositories: list[EcrRepositorySpec] = Field(min_length=1)
    """The repositories, at least one: [{name, ...overrides}]."""

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
    production = stack.startswith("prod")
    names = [repo.name for repo in spec.repositories]
    for index in repeated(names):
        problems.append(
            ConfigProblem(
                f"{root}.repositories[{index}].name", repr(names[index]), "repeats a name; each repository once"
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
                lifecycle_policy_text(intent)
            except PolicyError as error:
                path = origin("retention", "retention")
                problems.append(
                    ConfigProblem(f"{path}.{error.where}", "this rule", f"ECR cannot express it: {error.problem}")
                )
    return problems


__all__ = ["EcrEncryption", "EcrRepositorySettings", "EcrRepositorySpec", "EcrSpec", "ecr_problems", "retention_intent"]
