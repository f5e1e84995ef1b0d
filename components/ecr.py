"""EcrRegistry: private AWS ECR repositories with immutable tags, scanning, encryption, a lifecycle policy compiled
from a retention intent, and a repository policy with exactly the pull/push actions each principal needs."""

# No `from __future__ import annotations`: the component-provider analyzer reads these annotations at run time.
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components.arg_checks import enum_value
from components.ecr_names import PRINCIPAL, PTC_PREFIX, REGION, REPLICATION_FILTER, SCAN_FILTER, tag_filter_problem
from components.github_refs import github_ref_problem
from components.retention.args import RetentionArgs, retention_intent
from components.retention.ecr import lifecycle_policy_text
from components.retention.model import PolicyError, RetentionIntent
from components.retention.patterns import tag_matches

PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
PUSH_ACTIONS = ("ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage")
# What Lambda needs to pull a function's image (AWS Lambda developer guide, "Amazon ECR permissions").
LAMBDA_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
# What a source account needs in the destination's registry policy to replicate into it (ECR User Guide,
# "Private registry permissions": cross-account replication).
REPLICATION_ACTIONS = ("ecr:CreateRepository", "ecr:ReplicateImage")
ACCOUNT_ID = re.compile(r"[0-9]{12}")
# ECR's repository name pattern (CreateRepository API), 2 to 256 characters.
REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
REPOSITORY_NAME_RULE = (
    "must be 2-256 characters: lowercase letters and digits, separated by one of . _ - or by / (e.g. team/api)"
)


PRINCIPAL_RULE = "must be a 12-digit account id or an IAM ARN arn:aws:iam::<account>:root|user/<name>|role/<name>"


def repository_name_problem(name: object) -> str | None:
    """Why `name` is not an ECR repository name, or None."""
    if not isinstance(name, str) or not (2 <= len(name) <= 256 and REPOSITORY_NAME.fullmatch(name)):
        return REPOSITORY_NAME_RULE
    return None


class EcrEncryptionType(StrEnum):
    """How ECR encrypts image layers at rest."""

    AES256 = "AES256"
    """S3-managed keys."""
    KMS = "KMS"
    """AWS KMS: the given key, or the AWS-managed key aws/ecr."""


class EcrScanType(StrEnum):
    """Registry scanning type."""

    BASIC = "BASIC"
    """ECR's basic scanning."""
    ENHANCED = "ENHANCED"
    """Amazon Inspector."""


class EcrEventKind(StrEnum):
    """An image event a notification forwards."""

    PUSH = "push"
    """A successful image push."""
    DELETE = "delete"
    """A successful image delete."""
    SCAN = "scan"
    """A completed image scan (basic: ECR; enhanced: Amazon Inspector)."""


class EcrRepositoryArgs(TypedDict):
    """One ECR repository."""

    name: str
    """Repository name, e.g. team/api: 2-256 lowercase letters and digits separated by . _ - or /."""
    immutable_tags: NotRequired[bool]
    """Tags cannot be overwritten (IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION with mutable_tags). Default: true."""
    mutable_tags: NotRequired[list[str]]
    """ECR wildcard filters of the tags that stay mutable; only with immutable_tags. Default: none."""
    scan_on_push: NotRequired[bool]
    """Scan images for vulnerabilities on push. Default: true."""
    encryption_type: NotRequired[EcrEncryptionType]
    """Encryption at rest. Default: AES256."""
    kms_key: NotRequired[pulumi.Input[str]]
    """KMS key ARN when encryption_type is KMS (e.g. another resource's `arn`). Default: the AWS-managed key."""
    retention: NotRequired[RetentionArgs]
    """Which images the lifecycle policy deletes. Default: none (no lifecycle policy)."""
    readers: NotRequired[list[pulumi.Input[str]]]
    """Account ids or IAM principal ARNs allowed to pull (e.g. a role's `arn`). Default: none."""
    writers: NotRequired[list[pulumi.Input[str]]]
    """Account ids or IAM principal ARNs allowed to push and pull. Default: none."""
    lambda_readers: NotRequired[bool]
    """Let Lambda functions of the repository's own account pull. Default: false."""
    force_delete: NotRequired[bool]
    """Deleting the repository deletes its images. Default: false (deleting a repository with images fails)."""
    protect: NotRequired[bool]
    """Pulumi protect on the repository (set on production stacks). Default: false."""


class EcrCachedRepositoryArgs(TypedDict):
    """Settings of the repositories a pull-through cache creates (its repository creation template)."""

    immutable_tags: NotRequired[bool]
    """Tags cannot be overwritten (IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION with mutable_tags). Default: true."""
    mutable_tags: NotRequired[list[str]]
    """ECR wildcard filters of the tags that stay mutable; only with immutable_tags. Default: none."""
    encryption_type: NotRequired[EcrEncryptionType]
    """Encryption at rest. Default: AES256."""
    kms_key: NotRequired[pulumi.Input[str]]
    """KMS key ARN when encryption_type is KMS. Default: the AWS-managed key."""
    retention: NotRequired[RetentionArgs]
    """Which cached images the lifecycle policy deletes. Default: none (no lifecycle policy)."""


class EcrReplicationDestinationArgs(TypedDict):
    """Where a replication rule copies images."""

    region: pulumi.Input[str]
    """Destination region."""
    registry_id: NotRequired[pulumi.Input[str]]
    """Destination account id. Default: this registry's account."""


class EcrReplicationRuleArgs(TypedDict):
    """One replication rule."""

    destinations: list[EcrReplicationDestinationArgs]
    """Where to copy images."""
    prefixes: NotRequired[list[str]]
    """Repository name prefixes the rule applies to. Default: every repository."""


class EcrReplicationSourceArgs(TypedDict):
    """Another account allowed to replicate into this registry (the destination side of cross-account replication)."""

    account_id: pulumi.Input[str]
    """The source account id (12 digits)."""
    prefixes: NotRequired[list[str]]
    """Repository name prefixes it may create and replicate into (e.g. team/). Default: every repository."""


class EcrPullThroughCacheArgs(TypedDict):
    """A pull-through cache rule: ECR caches the images of an upstream registry under a prefix."""

    prefix: str
    """Repository name prefix of the cached images, e.g. dockerhub."""
    upstream_url: str
    """Upstream registry host, e.g. registry-1.docker.io."""
    credentials: NotRequired[pulumi.Input[str]]
    """Secret. Upstream login as the JSON {"username": ..., "accessToken": ...}. Default: anonymous."""


class EcrRegistrySettingsArgs(TypedDict):
    """Account-wide singletons of one region: declare them from exactly one stack."""

    scan_type: NotRequired[EcrScanType]
    """Registry scanning type. Default: scanning left unmanaged."""
    continuous_scan: NotRequired[list[str]]
    """Wildcard repository filters scanned continuously (ENHANCED). Default: none."""
    scan_on_push: NotRequired[list[str]]
    """Wildcard repository filters scanned on push. Default: none."""
    replication: NotRequired[list[EcrReplicationRuleArgs]]
    """Replication rules. Default: none (no ReplicationConfiguration)."""
    replication_sources: NotRequired[list[EcrReplicationSourceArgs]]
    """Accounts that may replicate into this registry: the registry policy (it replaces any registry policy the
    region has). Default: none (no RegistryPolicy)."""
    pull_through_cache: NotRequired[list[EcrPullThroughCacheArgs]]
    """Pull-through cache rules. Default: none."""
    cached_repositories: NotRequired[EcrCachedRepositoryArgs]
    """Settings of the repositories a pull-through cache creates. Default: immutable tags, AES256, no lifecycle
    policy."""


class EcrNotificationArgs(TypedDict):
    """Image events POSTed by EventBridge to a URL, through an API destination."""

    name: str
    """Name, part of the child resource names."""
    url: pulumi.Input[str]
    """Secret. HTTPS endpoint receiving the events."""
    auth_header_name: str
    """Header that authenticates EventBridge to the receiver."""
    auth_header_value: pulumi.Input[str]
    """Secret. Its value (EventBridge stores it in a managed secret)."""
    events: NotRequired[list[EcrEventKind]]
    """Which events. Default: push."""
    repositories: NotRequired[list[str]]
    """Repository names. Default: every repository of this registry."""


class EcrGithubOidcArgs(TypedDict):
    """A role GitHub Actions workflows of one repository assume through OIDC to push."""

    repository: str
    """GitHub repository, owner/name."""
    refs: list[str]
    """Refs allowed to assume the role (refs/heads/main, refs/tags/v*)."""
    create_provider: NotRequired[bool]
    """Declare the account's token.actions.githubusercontent.com OIDC provider. Default: false (it exists)."""


class EcrRegistryArgs(TypedDict):
    """Repositories of one account and region."""

    region: pulumi.Input[str]
    """AWS region of every repository, e.g. eu-west-1."""
    repositories: list[EcrRepositoryArgs]
    """The repositories; at least one."""
    registry_settings: NotRequired[EcrRegistrySettingsArgs]
    """Registry scanning, replication and pull-through cache. Default: left as the account has them."""
    notifications: NotRequired[list[EcrNotificationArgs]]
    """EventBridge notifications of image events. Default: none."""
    github_oidc: NotRequired[EcrGithubOidcArgs]
    """A push role for GitHub Actions. Default: none."""
    signed_images: NotRequired[bool]
    """The repositories hold signatures, attestations or SBOMs (a `signing:` block sets it): a retention rule that
    deletes is refused, naming the rule, where ECR cannot keep those exactly as long as their subject.
    Default: false."""


@dataclass(frozen=True)
class _Repository:
    """A repository's args with their defaults, checked: what the component declares from."""

    name: str
    immutable_tags: bool = True
    mutable_tags: tuple[str, ...] = ()
    scan_on_push: bool = True
    encryption_type: str = EcrEncryptionType.AES256.value
    kms_key: pulumi.Input[str] | None = None
    lifecycle_policy: str | None = None
    readers: tuple[pulumi.Input[str], ...] = ()
    writers: tuple[pulumi.Input[str], ...] = ()
    lambda_readers: bool = False
    force_delete: bool = False
    protect: bool = False


def _storage_settings(
    args: EcrRepositoryArgs | EcrCachedRepositoryArgs, where: str, signed: bool = False
) -> dict[str, Any]:
    """Tag mutability, encryption and retention of `args` (a repository or the creation template), checked;
    `signed`: the repository holds signatures (EcrRegistryArgs.signed_images)."""
    immutable_tags = bool(args.get("immutable_tags", True))
    mutable_tags = tuple(args.get("mutable_tags", []))
    encryption_type = enum_value(EcrEncryptionType, args.get("encryption_type", "AES256"), f"{where}.encryption_type")
    kms_key = args.get("kms_key")
    if mutable_tags and not immutable_tags:
        raise ValueError(f"{where}.mutable_tags: only allowed with immutable_tags=True")
    if kms_key is not None and encryption_type != EcrEncryptionType.KMS.value:
        raise ValueError(f"{where}.kms_key: only allowed with encryption_type='KMS'")
    return {
        "immutable_tags": immutable_tags,
        "mutable_tags": mutable_tags,
        "encryption_type": encryption_type,
        "kms_key": kms_key,
        "lifecycle_policy": _lifecycle_policy(
            retention_intent(args.get("retention"), f"{where}.retention"), where, signed
        ),
    }


def _lifecycle_policy(intent: RetentionIntent, where: str, signed: bool = False) -> str | None:
    """The lifecycle policy text of `intent` (None when it deletes nothing); ValueError naming `where`.retention for
    a rule ECR cannot express."""
    if intent.is_empty:
        return None
    try:
        return lifecycle_policy_text(intent, referrers=signed)
    except PolicyError as error:
        raise ValueError(f"{where}.retention: {error}") from None


def _match(value: object, regex: re.Pattern[str], where: str, allowed: str) -> None:
    """ValueError naming `where` when a plain `value` does not match (an Output is left to the API)."""
    if isinstance(value, str) and not regex.fullmatch(value):
        raise ValueError(f"{where}: {value!r} {allowed}")


def _check_settings_values(args: EcrRegistryArgs) -> None:
    """The value rules of registries.config.ecr (components/ecr_names.py) on the region, registry settings and GitHub
    refs, for library users."""
    region_rule = "must be an AWS region name such as eu-west-1 or us-east-1"
    _match(args.get("region"), REGION, "EcrRegistryArgs.region", region_rule)
    settings = args.get("registry_settings") or {}
    root = "EcrRegistryArgs.registry_settings"
    for key in ("continuous_scan", "scan_on_push"):
        for index, value in enumerate(settings.get(key, [])):
            _match(
                value, SCAN_FILTER, f"{root}.{key}[{index}]", "must be a repository name filter ([a-z0-9._/-] and *)"
            )
    prefix_rule = "must be a repository name prefix ([a-z0-9._/-])"
    for index, rule in enumerate(settings.get("replication", [])):
        for j, destination in enumerate(rule["destinations"]):
            _match(destination["region"], REGION, f"{root}.replication[{index}].destinations[{j}].region", region_rule)
        for j, prefix in enumerate(rule.get("prefixes", [])):
            _match(prefix, REPLICATION_FILTER, f"{root}.replication[{index}].prefixes[{j}]", prefix_rule)
    for index, source in enumerate(settings.get("replication_sources", [])):
        for j, prefix in enumerate(source.get("prefixes", [])):
            _match(prefix, REPLICATION_FILTER, f"{root}.replication_sources[{index}].prefixes[{j}]", prefix_rule)
    for index, cache in enumerate(settings.get("pull_through_cache", [])):
        allowed = "must be lowercase letters and digits separated by . _ -"
        _match(cache["prefix"], PTC_PREFIX, f"{root}.pull_through_cache[{index}].prefix", allowed)
    github = args.get("github_oidc")
    for index, ref in enumerate(github["refs"] if github is not None else []):
        if problem := github_ref_problem(ref):
            raise ValueError(f"EcrRegistryArgs.github_oidc.refs[{index}]: {problem}")


def _repository(args: EcrRepositoryArgs, where: str, signed: bool = False) -> _Repository:
    """`args` with their defaults, checked, naming the arg (`where`) on an error."""
    name = args.get("name")
    if problem := repository_name_problem(name):
        raise ValueError(f"{where}.name: {name!r} {problem}")
    for index, tag_filter in enumerate(args.get("mutable_tags", [])):
        if problem := tag_filter_problem(tag_filter):
            raise ValueError(f"{where}.mutable_tags[{index}]: {tag_filter!r} {problem}")
    for kind in ("readers", "writers"):
        for index, principal in enumerate(args.get(kind, [])):
            _match(principal, PRINCIPAL, f"{where}.{kind}[{index}]", PRINCIPAL_RULE)
    return _Repository(
        name=args["name"],
        scan_on_push=bool(args.get("scan_on_push", True)),
        readers=tuple(args.get("readers", [])),
        writers=tuple(args.get("writers", [])),
        lambda_readers=bool(args.get("lambda_readers", False)),
        force_delete=bool(args.get("force_delete", False)),
        protect=bool(args.get("protect", False)),
        **_storage_settings(args, where, signed),
    )


def event_patterns(
    events: Sequence[str], repositories: Sequence[str], scan_type: str | None = None
) -> dict[str, dict[str, Any]]:
    """EventBridge patterns per rule: `action` (successful pushes/deletes), `scan` (basic scans ECR completed) and
    `scan-enhanced` (enhanced scans Amazon Inspector completed); scan_type None (unmanaged) may be either."""
    patterns: dict[str, dict[str, Any]] = {}
    actions = [kind.upper() for kind in ("push", "delete") if kind in events]
    if actions:
        patterns["action"] = {
            "source": ["aws.ecr"],
            "detail-type": ["ECR Image Action"],
            "detail": {"action-type": actions, "result": ["SUCCESS"], "repository-name": list(repositories)},
        }
    if "scan" in events and scan_type != "ENHANCED":
        patterns["scan"] = {
            "source": ["aws.ecr"],
            "detail-type": ["ECR Image Scan"],
            "detail": {"scan-status": ["COMPLETE"], "repository-name": list(repositories)},
        }
    if "scan" in events and scan_type != "BASIC":
        # Inspector names the repository by its ARN: ":repository/<name>" at the end matches exactly that name.
        patterns["scan-enhanced"] = {
            "source": ["aws.inspector2"],
            "detail-type": ["Inspector2 Scan"],
            "detail": {
                "scan-status": ["INITIAL_SCAN_COMPLETE"],
                "repository-name": [{"suffix": f":repository/{repo}"} for repo in repositories],
            },
        }
    return patterns


GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"


def github_trust_policy(provider_arn: str, repository: str, refs: Sequence[str]) -> dict[str, Any]:
    """Who may assume the CI role: tokens for AWS STS from workflows of `repository` running on one of `refs`."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com"},
                    "StringLike": {f"{GITHUB_OIDC_HOST}:sub": [f"repo:{repository}:ref:{ref}" for ref in refs]},
                },
            }
        ],
    }


def push_policy(repository_arns: Sequence[str]) -> dict[str, Any]:
    """Log in anywhere (GetAuthorizationToken has no resource), push and pull only the given repositories."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Login", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Sid": "PushPull",
                "Effect": "Allow",
                "Action": [*PULL_ACTIONS, *PUSH_ACTIONS],
                "Resource": list(repository_arns),
            },
        ],
    }


def resource_suffix(repository: str) -> str:
    """A child resource name part per repository: `/` becomes `--`, which ECR names cannot contain, so it is unique."""
    return repository.replace("/", "--")


def _check(args: EcrRegistryArgs) -> list[_Repository]:
    """Run-time checks of what the args alone can tell, naming the arg (library users bypass the config schema);
    returns the repositories with their defaults."""
    if not args.get("repositories"):
        raise ValueError("EcrRegistryArgs.repositories: declare at least one repository")
    repositories: list[_Repository] = []
    for index, repo_args in enumerate(args["repositories"]):
        where = f"EcrRegistryArgs.repositories[{index}]"
        repo = _repository(repo_args, where, bool(args.get("signed_images", False)))
        if repo.name in (seen.name for seen in repositories):
            raise ValueError(f"{where}.name: {repo.name!r} is declared twice")
        repositories.append(repo)
    names = {repo.name for repo in repositories}
    hook_names: set[str] = set()
    for index, hook in enumerate(args.get("notifications", [])):
        where = f"EcrRegistryArgs.notifications[{index}]"
        if hook["name"] in hook_names:
            raise ValueError(f"{where}.name: {hook['name']!r} is declared twice")
        hook_names.add(hook["name"])
        events = hook.get("events", [EcrEventKind.PUSH])
        if not events:
            raise ValueError(f"{where}.events: one or more of push, delete, scan (got [])")
        for event_index, event in enumerate(events):
            enum_value(EcrEventKind, event, f"{where}.events[{event_index}]")
        if unknown := sorted(set(hook.get("repositories", [])) - names):
            raise ValueError(f"{where}.repositories: {unknown} are not repositories of this registry")
        url = hook["url"]
        if isinstance(url, str):  # an Output is checked when its value is known
            _check_hook_url(url, f"{where}.url")
    _check_settings_values(args)
    settings = args.get("registry_settings") or {}
    scan_type = None
    if "scan_type" in settings:
        scan_type = enum_value(EcrScanType, settings["scan_type"], "EcrRegistryArgs.registry_settings.scan_type")
    continuous = settings.get("continuous_scan")
    if continuous and scan_type != EcrScanType.ENHANCED:
        # Continuous scanning is Amazon Inspector's (ENHANCED): PutRegistryScanningConfiguration refuses it with BASIC.
        raise ValueError(
            f"EcrRegistryArgs.registry_settings.continuous_scan: {continuous} needs scan_type "
            f"ENHANCED, not {'unset' if scan_type is None else repr(scan_type)} (BASIC scans on push or manually)"
        )
    _storage_settings(
        settings.get("cached_repositories") or {}, "EcrRegistryArgs.registry_settings.cached_repositories"
    )
    source_accounts: set[str] = set()
    for index, source in enumerate(settings.get("replication_sources", [])):
        where = f"EcrRegistryArgs.registry_settings.replication_sources[{index}].account_id"
        account = source["account_id"]
        if isinstance(account, str):  # an Output is checked when the policy is rendered
            if not ACCOUNT_ID.fullmatch(account):
                raise ValueError(f"{where}: {account!r} must be a 12-digit AWS account id")
            if account in source_accounts:
                raise ValueError(f"{where}: {account!r} is declared twice; list its prefixes together")
            source_accounts.add(account)
    return repositories


def _check_hook_url(url: str, where: str) -> str:
    """EventBridge API destinations call HTTPS endpoints only. The URL is a secret: the message does not show it."""
    if not url.startswith("https://") or any(c.isspace() for c in url):
        raise ValueError(f"{where}: must be an https:// URL without spaces (the value is secret, not shown)")
    return url


def registry_policy_document(repository_arn: str, sources: Sequence[tuple[str, Sequence[str]]]) -> dict[str, Any]:
    """The registry policy letting each (account, prefixes) source replicate into the registry that holds
    `repository_arn` (its partition, region and account scope the grant); ValueError for this account itself."""
    _, partition, _, region, own_account, _ = repository_arn.split(":", 5)  # arn:<partition>:ecr:<region>:<account>:...
    statements = []
    for account, prefixes in sources:
        if not ACCOUNT_ID.fullmatch(account):
            raise ValueError(f"replication source {account!r} must be a 12-digit AWS account id")
        if account in (source for source, _ in sources[: len(statements)]):
            raise ValueError(f"replication source {account!r} is declared twice; list its prefixes together")
        if account == own_account:
            raise ValueError(
                f"replication source {account!r} is this registry's own account; same-account replication needs "
                "no registry policy"
            )
        repository_arns = [f"arn:{partition}:ecr:{region}:{own_account}:repository/{p}*" for p in prefixes or ("",)]
        statements.append(
            {
                "Sid": f"ReplicationFrom{account}",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                "Action": list(REPLICATION_ACTIONS),
                "Resource": repository_arns,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def tag_mutability(repo: _Repository) -> str:
    if not repo.immutable_tags:
        return "MUTABLE"
    return "IMMUTABLE_WITH_EXCLUSION" if repo.mutable_tags else "IMMUTABLE"


def tag_is_mutable(repo: EcrRepositoryArgs, tag: str) -> bool:
    """Whether ECR lets `tag` be pushed again in `repo`: exclusion filters are AWS wildcards matching the whole tag
    (`*` = any sequence), not regexes."""
    if not repo.get("immutable_tags", True):
        return True
    return any(tag_matches(pattern, tag) for pattern in repo.get("mutable_tags", []))


def lambda_functions_of(repository_arn: str) -> str:
    """The ARN pattern of the Lambda functions in a repository's partition, region and account."""
    _, partition, _, region, account, _ = repository_arn.split(":", 5)  # arn:<partition>:ecr:<region>:<account>:...
    return f"arn:{partition}:lambda:{region}:{account}:function:*"


def repository_policy_document(
    readers: Sequence[str], writers: Sequence[str], lambda_functions: str | None
) -> dict[str, Any] | None:
    """The repository policy: pull for readers, push and pull for writers, pull for Lambda on behalf of the functions
    matching `lambda_functions` (an ARN pattern)."""
    statements: list[dict[str, Any]] = []
    if readers:
        statements.append(
            {"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": list(readers)}, "Action": list(PULL_ACTIONS)}
        )
    if writers:
        statements.append(
            {
                "Sid": "PushPull",
                "Effect": "Allow",
                "Principal": {"AWS": list(writers)},
                "Action": [*PULL_ACTIONS, *PUSH_ACTIONS],
            }
        )
    if lambda_functions is not None:
        # The condition the Lambda developer guide gives for Lambda's own image retrieval ("Amazon ECR cross-account
        # permissions"): the function's ARN. No AWS document says that request carries aws:SourceAccount.
        statements.append(
            {
                "Sid": "LambdaPull",
                "Effect": "Allow",
                "Principal": {"Service": LAMBDA_PRINCIPAL},
                "Action": list(LAMBDA_ACTIONS),
                "Condition": {"StringLike": {"aws:SourceArn": lambda_functions}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements} if statements else None


def _policy_text(
    readers: Sequence[pulumi.Input[str]],
    writers: Sequence[pulumi.Input[str]],
    repository_arn: pulumi.Output[str] | None,
) -> pulumi.Input[str]:
    """The policy text; `repository_arn` (its partition, region and account) when Lambda functions may pull."""

    def render(values: list[Any]) -> str:
        reader_values = values[: len(readers)]
        writer_values = values[len(readers) : len(readers) + len(writers)]
        functions = lambda_functions_of(values[-1]) if repository_arn is not None else None
        document = repository_policy_document(
            list(dict.fromkeys(reader_values)), list(dict.fromkeys(writer_values)), functions
        )
        return json.dumps(document, indent=2)

    parts: list[pulumi.Input[Any]] = [*readers, *writers, *([repository_arn] if repository_arn is not None else [])]
    if all(isinstance(part, str) for part in parts):  # plain config values: no Output round trip per repository
        return render(list(parts))
    return pulumi.Output.all(*parts).apply(render)


def ecr_scan_results_url(repository_url: str) -> str:
    """The console page of a repository (<account>.dkr.ecr.<region>.amazonaws.com/<name>): its images and, per image,
    the scan findings (basic: ECR's; enhanced: Amazon Inspector's, linked from there)."""
    host, _, repository = repository_url.partition("/")
    account, _dkr, _ecr, region = host.split(".")[:4]
    return f"https://{region}.console.aws.amazon.com/ecr/repositories/private/{account}/{repository}?region={region}"


class EcrRegistry(pulumi.ComponentResource):
    """Private AWS ECR repositories (immutable tags, scan on push, encryption, a lifecycle policy compiled from the
    retention rules, least-privilege repository policies), optionally the registry's scanning, replication and
    pull-through cache, EventBridge notifications and a GitHub OIDC role for CI."""

    registry: pulumi.Output[str]
    """Registry host, <account>.dkr.ecr.<region>.amazonaws.com."""
    ci_role_arn: pulumi.Output[str | None]
    """ARN of the GitHub Actions push role (None without github_oidc)."""
    repository_urls: pulumi.Output[dict[str, str]]
    """Repository name -> repository URL (registry host/name)."""
    repository_arns: pulumi.Output[dict[str, str]]
    """Repository name -> ARN."""
    lifecycle_policies: pulumi.Output[dict[str, str]]
    """Repository name -> lifecycle policy text, for the repositories that have one."""
    login_command: pulumi.Output[str]
    """Shell command that logs Docker in with the caller's AWS credentials (aws CLI v2)."""
    docker_config_json: pulumi.Output[str]
    """~/.docker/config.json content that uses the ecr-login credential helper (no stored password)."""
    scan_results: pulumi.Output[dict[str, str]]
    """Repository name -> the AWS console page listing its images with their scan findings (basic or enhanced)."""
    scan_findings_command: pulumi.Output[str]
    """`aws ecr describe-image-scan-findings` for one image (fill in <repository> and <digest>): basic findings under
    imageScanFindings.findings, enhanced (Amazon Inspector) under imageScanFindings.enhancedFindings."""

    def __init__(self, name: str, args: EcrRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        repos = _check(args)  # before any resource: a bad arg declares nothing
        # The old token stays an alias, so stacks created before keep their URNs.
        alias = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="registries:ecr:EcrRegistry")])
        super().__init__("registries:index:EcrRegistry", name, None, pulumi.ResourceOptions.merge(opts, alias))
        region = args["region"]
        settings = args.get("registry_settings")
        urls: dict[str, pulumi.Output[str]] = {}
        arns: dict[str, pulumi.Output[str]] = {}
        policies: dict[str, str] = {}
        repositories: list[aws.ecr.Repository] = []
        for repo in repos:
            suffix = resource_suffix(repo.name)
            encryption = aws.ecr.RepositoryEncryptionConfigurationArgs(
                encryption_type=repo.encryption_type, kms_key=repo.kms_key
            )
            repository = aws.ecr.Repository(
                f"{name}-repo-{suffix}",
                name=repo.name,
                region=region,
                image_tag_mutability=tag_mutability(repo),
                image_tag_mutability_exclusion_filters=[
                    aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs(filter=tag, filter_type="WILDCARD")
                    for tag in repo.mutable_tags
                ]
                or None,
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=repo.scan_on_push
                ),
                encryption_configurations=[encryption],
                force_delete=repo.force_delete,
                # Create-first, never delete-first: a replacement (new encryption) fails on the taken name and
                # loses nothing, where delete-first with force_delete would drop every image first.
                opts=pulumi.ResourceOptions(parent=self, protect=repo.protect),
            )
            repositories.append(repository)
            urls[repo.name] = repository.repository_url
            arns[repo.name] = repository.arn
            if repo.lifecycle_policy is not None:
                policies[repo.name] = repo.lifecycle_policy
                aws.ecr.LifecyclePolicy(
                    f"{name}-lifecycle-{suffix}",
                    repository=repository.name,
                    region=region,
                    policy=repo.lifecycle_policy,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            if repo.readers or repo.writers or repo.lambda_readers:
                arn = repository.arn if repo.lambda_readers else None
                aws.ecr.RepositoryPolicy(
                    f"{name}-policy-{suffix}",
                    repository=repository.name,
                    region=region,
                    policy=_policy_text(repo.readers, repo.writers, arn),
                    opts=pulumi.ResourceOptions(parent=self),
                )

        first = repositories[0]
        scan_type: str | None = None
        if settings is not None:
            self._registry_settings(name, region, settings, first.registry_id, first.arn)
            if sources := settings.get("replication_sources"):
                self._registry_policy(name, region, sources, first.arn)
            if "scan_type" in settings:
                scan_type = enum_value(EcrScanType, settings["scan_type"], "registry_settings.scan_type")

        for index, hook in enumerate(args.get("notifications", [])):
            events = [enum_value(EcrEventKind, event, "events") for event in hook.get("events", [EcrEventKind.PUSH])]
            patterns = event_patterns(events, hook.get("repositories") or list(urls), scan_type)
            where = f"EcrRegistryArgs.notifications[{index}]"
            self._notification(name, region, hook, where, patterns, first.registry_id)

        github = args.get("github_oidc")
        self.ci_role_arn = (
            self._github_role(name, github, list(arns.values()), first.registry_id)
            if github is not None
            else pulumi.Output.from_input(None)
        )

        first_url = next(iter(urls.values()))
        self.registry = first_url.apply(lambda url: url.split("/", 1)[0])
        self.repository_urls = pulumi.Output.all(**urls).apply(dict)
        self.repository_arns = pulumi.Output.all(**arns).apply(dict)
        self.lifecycle_policies = pulumi.Output.from_input(policies)
        self.login_command = pulumi.Output.format(
            "aws ecr get-login-password --region {0} | docker login --username AWS --password-stdin {1}",
            region,
            self.registry,
        )
        self.docker_config_json = self.registry.apply(
            lambda host: json.dumps({"credHelpers": {host: "ecr-login"}}, indent=2)
        )
        self.scan_results = self.repository_urls.apply(
            lambda by_name: {repo: ecr_scan_results_url(url) for repo, url in by_name.items()}
        )
        self.scan_findings_command = pulumi.Output.format(
            "aws ecr describe-image-scan-findings --region {0} --repository-name <repository> "
            "--image-id imageDigest=<digest>",
            region,
        )
        self.register_outputs(
            {
                "registry": self.registry,
                "repositoryUrls": self.repository_urls,
                "repositoryArns": self.repository_arns,
                "lifecyclePolicies": self.lifecycle_policies,
                "loginCommand": self.login_command,
                "dockerConfigJson": self.docker_config_json,
                "ciRoleArn": self.ci_role_arn,
                "scanResults": self.scan_results,
                "scanFindingsCommand": self.scan_findings_command,
            }
        )

    def _template_role(
        self,
        name: str,
        prefix: str,
        kms_key: pulumi.Input[str] | None,
        repository_arn: pulumi.Output[str],
    ) -> pulumi.Output[str]:
        """The role ECR assumes to create KMS-encrypted repositories from a creation template (ECR refuses such a
        template without one): AWS's documented trust and permissions, ECR scoped to the prefix's repositories."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-template-role-{prefix}",
            description=f"ECR creates the repositories of the pull-through cache {prefix} with this role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "ecr.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                },
                indent=2,
            ),
            opts=child,
        )

        def render(values: list[Any]) -> str:
            arn, key = values
            # Any repository ARN of this registry carries its partition, region and account.
            repositories = f"{arn.split(':repository/', 1)[0]}:repository/{prefix}/*"
            statements = [
                {"Effect": "Allow", "Action": ["ecr:CreateRepository", "ecr:TagResource"], "Resource": repositories},
                {
                    "Effect": "Allow",
                    "Action": ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"],
                    # The AWS-managed key's ARN is not known before ECR creates it: any key, as AWS's example.
                    "Resource": key or "*",
                },
            ]
            return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)

        policy = aws.iam.RolePolicy(
            f"{name}-template-role-policy-{prefix}",
            role=role.id,
            policy=pulumi.Output.all(repository_arn, kms_key).apply(render),
            opts=child,
        )
        # The template refers to the role only once it may use it.
        return pulumi.Output.all(role.arn, policy.id).apply(lambda values: str(values[0]))

    def _registry_policy(
        self,
        name: str,
        region: pulumi.Input[str],
        sources: Sequence[EcrReplicationSourceArgs],
        repository_arn: pulumi.Output[str],
    ) -> None:
        def render(values: list[Any]) -> str:
            arn, *accounts = values
            document = registry_policy_document(
                arn,
                [
                    (account, tuple(source.get("prefixes", [])))
                    for account, source in zip(accounts, sources, strict=True)
                ],
            )
            return json.dumps(document, indent=2)

        # Any repository ARN of this registry carries its partition, region and account.
        policy = pulumi.Output.all(repository_arn, *[source["account_id"] for source in sources]).apply(render)
        aws.ecr.RegistryPolicy(
            f"{name}-registry-policy", policy=policy, region=region, opts=pulumi.ResourceOptions(parent=self)
        )

    def _registry_settings(
        self,
        name: str,
        region: pulumi.Input[str],
        settings: EcrRegistrySettingsArgs,
        account: pulumi.Output[str],
        repository_arn: pulumi.Output[str],
    ) -> None:
        if "scan_type" in settings:
            scan_rules = [
                aws.ecr.RegistryScanningConfigurationRuleArgs(
                    scan_frequency=frequency,
                    repository_filters=[
                        aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(filter=f, filter_type="WILDCARD")
                        for f in filters
                    ],
                )
                for frequency, filters in (
                    ("CONTINUOUS_SCAN", settings.get("continuous_scan", [])),
                    ("SCAN_ON_PUSH", settings.get("scan_on_push", [])),
                )
                if filters
            ]
            aws.ecr.RegistryScanningConfiguration(
                f"{name}-scanning",
                scan_type=enum_value(EcrScanType, settings["scan_type"], "registry_settings.scan_type"),
                rules=scan_rules or None,
                region=region,
                opts=pulumi.ResourceOptions(parent=self),
            )
        if replication := settings.get("replication"):
            replication_rules = [
                aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                    destinations=[
                        aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                            region=destination["region"],
                            registry_id=destination.get("registry_id", account),
                        )
                        for destination in rule["destinations"]
                    ],
                    repository_filters=[
                        aws.ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(
                            filter=prefix, filter_type="PREFIX_MATCH"
                        )
                        for prefix in rule.get("prefixes", [])
                    ]
                    or None,
                )
                for rule in replication
            ]
            aws.ecr.ReplicationConfiguration(
                f"{name}-replication",
                replication_configuration=aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(
                    rules=replication_rules
                ),
                region=region,
                opts=pulumi.ResourceOptions(parent=self),
            )
        where = "EcrRegistryArgs.registry_settings.cached_repositories"
        template = _Repository(
            "pull-through-cache", **_storage_settings(settings.get("cached_repositories") or {}, where)
        )
        for rule in settings.get("pull_through_cache", []):
            prefix = rule["prefix"]
            credentials = rule.get("credentials")
            credential_arn: pulumi.Input[str] | None = None
            if credentials is not None:
                # ECR reads upstream credentials only from secrets named ecr-pullthroughcache/<anything>.
                secret = aws.secretsmanager.Secret(
                    f"{name}-ptc-secret-{prefix}",
                    name=f"ecr-pullthroughcache/{prefix}",
                    description=f"Upstream credentials of the ECR pull-through cache rule {prefix}",
                    # The name is fixed: a 30-day recovery window would block the next up after a destroy.
                    recovery_window_in_days=0,
                    region=region,
                    opts=pulumi.ResourceOptions(parent=self),
                )
                aws.secretsmanager.SecretVersion(
                    f"{name}-ptc-secret-value-{prefix}",
                    secret_id=secret.id,
                    secret_string=pulumi.Output.secret(credentials),
                    region=region,
                    opts=pulumi.ResourceOptions(parent=self),
                )
                credential_arn = secret.arn
            cache_rule = aws.ecr.PullThroughCacheRule(
                f"{name}-ptc-{prefix}",
                ecr_repository_prefix=prefix,
                upstream_registry_url=rule["upstream_url"],
                credential_arn=credential_arn,
                region=region,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.ecr.RepositoryCreationTemplate(
                f"{name}-template-{prefix}",
                prefix=prefix,
                applied_fors=["PULL_THROUGH_CACHE"],
                description=f"Repositories the pull-through cache {prefix} creates",
                image_tag_mutability=tag_mutability(template),
                image_tag_mutability_exclusion_filters=[
                    aws.ecr.RepositoryCreationTemplateImageTagMutabilityExclusionFilterArgs(
                        filter=tag, filter_type="WILDCARD"
                    )
                    for tag in template.mutable_tags
                ]
                or None,
                encryption_configurations=[
                    aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(
                        encryption_type=template.encryption_type, kms_key=template.kms_key
                    )
                ],
                lifecycle_policy=template.lifecycle_policy,
                custom_role_arn=(
                    self._template_role(name, prefix, template.kms_key, repository_arn)
                    if template.encryption_type == "KMS"
                    else None
                ),
                region=region,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[cache_rule]),
            )

    def _notification(
        self,
        name: str,
        region: pulumi.Input[str],
        hook: EcrNotificationArgs,
        where: str,
        patterns: dict[str, dict[str, Any]],
        account: pulumi.Output[str],
    ) -> None:
        hook_name = hook["name"]
        prefix = f"{name}-hook-{hook_name}"
        child = pulumi.ResourceOptions(parent=self)
        connection = aws.cloudwatch.EventConnection(
            f"{prefix}-connection",
            authorization_type="API_KEY",
            auth_parameters=aws.cloudwatch.EventConnectionAuthParametersArgs(
                api_key=aws.cloudwatch.EventConnectionAuthParametersApiKeyArgs(
                    key=hook["auth_header_name"], value=pulumi.Output.secret(hook["auth_header_value"])
                )
            ),
            description=f"ECR notification {hook_name}",
            region=region,
            opts=child,
        )
        destination = aws.cloudwatch.EventApiDestination(
            f"{prefix}-destination",
            connection_arn=connection.arn,
            http_method="POST",
            # A URL from another resource is checked once known (the value stays the same, and secret).
            invocation_endpoint=pulumi.Output.secret(hook["url"]).apply(
                lambda url: _check_hook_url(url, f"{where}.url")
            ),
            invocation_rate_limit_per_second=10,
            region=region,
            opts=child,
        )
        dead_letters = aws.sqs.Queue(
            f"{prefix}-dlq",
            message_retention_seconds=14 * 24 * 3600,  # the longest SQS keeps a message
            sqs_managed_sse_enabled=True,
            region=region,
            opts=child,
        )
        role = aws.iam.Role(
            f"{prefix}-role",
            description=f"EventBridge invokes the API destination of ECR notification {hook_name}",
            assume_role_policy=account.apply(
                lambda account_id: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                            }
                        ],
                    },
                    indent=2,
                )
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{prefix}-invoke",
            role=role.id,
            policy=destination.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "events:InvokeApiDestination", "Resource": arn}],
                    },
                    indent=2,
                )
            ),
            opts=child,
        )
        rule_arns: list[pulumi.Output[str]] = []
        for group, pattern in patterns.items():
            rule = aws.cloudwatch.EventRule(
                f"{prefix}-rule-{group}",
                description=f"ECR {group} events of notification {hook_name}",
                event_pattern=json.dumps(pattern, indent=2),
                region=region,
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{prefix}-target-{group}",
                rule=rule.name,
                arn=destination.arn,
                role_arn=role.arn,
                dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dead_letters.arn),
                retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                    maximum_event_age_in_seconds=24 * 3600, maximum_retry_attempts=185
                ),
                region=region,
                opts=child,
            )
            rule_arns.append(rule.arn)
        aws.sqs.QueuePolicy(
            f"{prefix}-dlq-policy",
            queue_url=dead_letters.url,
            policy=pulumi.Output.all(dead_letters.arn, *rule_arns).apply(
                lambda values: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "EventBridgeDeadLetters",
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": values[0],
                                "Condition": {"ArnEquals": {"aws:SourceArn": list(values[1:])}},
                            }
                        ],
                    },
                    indent=2,
                )
            ),
            region=region,
            opts=child,
        )

    def _github_role(
        self,
        name: str,
        github: EcrGithubOidcArgs,
        repository_arns: list[pulumi.Output[str]],
        account: pulumi.Output[str],
    ) -> pulumi.Output[str | None]:
        child = pulumi.ResourceOptions(parent=self)
        if github.get("create_provider", False):
            provider_arn: pulumi.Output[str] = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_id_lists=["sts.amazonaws.com"],
                opts=child,
            ).arn
        else:
            provider_arn = account.apply(
                lambda account_id: f"arn:aws:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"
            )
        role = aws.iam.Role(
            f"{name}-ci-role",
            description=f"GitHub Actions of {github['repository']} push to ECR",
            assume_role_policy=provider_arn.apply(
                lambda arn: json.dumps(github_trust_policy(arn, github["repository"], github["refs"]), indent=2)
            ),
            max_session_duration=3600,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-ci-push",
            role=role.id,
            policy=pulumi.Output.all(*repository_arns).apply(lambda arns: json.dumps(push_policy(arns), indent=2)),
            opts=child,
        )
        return role.arn
