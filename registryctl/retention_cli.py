"""`registryctl retention simulate|compile`: what a retention policy deletes, and the native document per platform.

simulate --platform {intent,ecr,artifact-registry,acr} --policy POLICY.json --images IMAGES.json [--now ISO-TIME]
    prints {"expire": [digests], "keep": [digests]}, each sorted; exit 0. A malformed file exits 2 naming the field.
    For ecr, --images may also be `aws ecr describe-images` output (or a list of such pages), --policy may be
    `aws ecr get-lifecycle-policy` output, and --stack/--stack-file with --repository evaluates the policy a stack
    declares for one repository instead of --policy. For acr, --stack/--stack-file evaluates the registry's declared
    document (untaggedRetentionDays + the purge task's filters) on every image, or on --repository's only. For
    artifact-registry, --stack/--stack-file with --repository (a repository, gcr.io domain or mirror) evaluates its
    declared cleanup policies on every image given (their `repository` is the package, i.e. the image name).
compile --platform {ecr,artifact-registry,acr} --intent FILE
    prints the native document (for ecr exactly the text LifecyclePolicy.policy receives), or exits 2 naming the
    rule the platform cannot express."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from components.acr import purge_document as acr_purge_document
from components.artifact_registry import compiled_cleanup
from components.retention import acr, artifact_registry, ecr
from components.retention.intent import evaluate
from components.retention.model import Image, Outcome, PolicyError, RetentionIntent
from registries.mapping.acr import acr_args
from registries.mapping.artifact_registry import artifact_registry_args
from registries.spec import StackSpec, load_stack_spec
from registries.spec.base import ConfigError, ConfigProblem, problems_from_validation_error
from registries.spec.ecr import retention_intent
from registries.spec.retention import load_retention
from registryctl.stack_files import PROJECT_DIR, read_stack_config, stack_file, stack_name

EXIT_OK, EXIT_INVALID = 0, 2

Simulator = Callable[[Any, list[Image], datetime], Outcome]
SIMULATORS: dict[str, Simulator] = {
    "intent": lambda document, images, now: evaluate(load_retention(document), images, now),
    "ecr": lambda document, images, now: ecr.simulate(ecr.parse_lifecycle_policy(document), images, now),
    "artifact-registry": lambda document, images, now: artifact_registry.simulate(
        artifact_registry.parse_cleanup_policies(document), images, now
    ),
    "acr": lambda document, images, now: acr.simulate(acr.parse_acr_policy(document), images, now),
}
COMPILERS: dict[str, Callable[[RetentionIntent], str]] = {
    "ecr": ecr.lifecycle_policy_text,
    "artifact-registry": lambda intent: json.dumps(artifact_registry.compile_cleanup_policies(intent), indent=2),
    "acr": lambda intent: json.dumps(acr.compile_acr_policy(intent), indent=2),
}


class ImageRecord(BaseModel):
    """One entry of IMAGES.json."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    repository: str = Field(min_length=1)
    digest: str = Field(min_length=1)
    tags: list[str]
    pushed_at: AwareDatetime = Field(alias="pushedAt")


def _pushed_at(value: object) -> datetime:
    """describe-images' imagePushedAt: ISO 8601 with offset (AWS CLI) or epoch seconds (some SDK dumps)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"epoch seconds out of range ({value}; milliseconds are not accepted)") from None
    if isinstance(value, str):
        try:
            pushed_at = datetime.fromisoformat(value)
        except ValueError:
            pushed_at = None
        if pushed_at is not None and pushed_at.tzinfo is not None:
            return pushed_at
    raise ValueError("must be an ISO 8601 time with offset (2026-01-05T10:00:00+01:00) or epoch seconds")


class EcrImageDetail(BaseModel):
    """One `imageDetails` entry of `aws ecr describe-images`; keys this tool does not use are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)

    registryId: str = Field(min_length=1)
    repositoryName: str = Field(min_length=1)
    imageDigest: str = Field(min_length=1)
    imageTags: list[str] = []  # absent on untagged images
    imagePushedAt: Annotated[datetime, BeforeValidator(_pushed_at)]


class DescribeImagesPage(BaseModel):
    """What `aws ecr describe-images --output json` prints."""

    model_config = ConfigDict(extra="ignore", strict=True)

    imageDetails: list[EcrImageDetail]
    nextToken: str | None = None


class InputError(Exception):
    """A file given on the command line is missing or malformed; the message names the file and the field."""


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise InputError(f"{what} {path}: cannot be read ({error.strerror})") from None


def _json(path: Path, what: str) -> Any:
    try:
        return json.loads(_read(path, what))
    except json.JSONDecodeError as error:
        raise InputError(f"{what} {path}: not JSON ({error})") from None


def _is_describe_images(document: Any) -> bool:
    """describe-images output, or a list of it (pages, repositories), rather than the IMAGES.json list."""
    if isinstance(document, dict):
        return "imageDetails" in document
    return (
        isinstance(document, list)
        and bool(document)
        and all(isinstance(page, dict) and "imageDetails" in page for page in document)
    )


def load_images(path: Path) -> tuple[list[Image], str | None]:
    """The images of IMAGES.json or of describe-images output, and a note when a dump is incomplete; InputError
    naming the entry and field when malformed."""
    text = _read(path, "images")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None  # the list validation below reports it as before
    if _is_describe_images(document):
        return _load_describe_images(path, text, single=isinstance(document, dict))
    try:
        records = TypeAdapter(list[ImageRecord]).validate_json(text)
    except ValidationError as error:
        raise InputError(f"images {path}: {ConfigError(problems_from_validation_error('images', error))}") from None
    images = [Image(r.repository, r.digest, tuple(r.tags), r.pushed_at) for r in records]
    return _unique_images_at(
        path, [(f"images[{i}]", ".digest", ".tags", image) for i, image in enumerate(images)]
    ), None


def _load_describe_images(path: Path, text: str, single: bool) -> tuple[list[Image], str | None]:
    try:
        pages = (
            [DescribeImagesPage.model_validate_json(text)]
            if single
            else TypeAdapter(list[DescribeImagesPage]).validate_json(text)
        )
    except ValidationError as error:
        raise InputError(f"images {path}: {ConfigError(problems_from_validation_error('images', error))}") from None
    entries = [
        (
            f"images{'' if single else f'[{page_index}]'}.imageDetails[{index}]",
            ".imageDigest",
            ".imageTags",
            Image(entry.repositoryName, entry.imageDigest, tuple(entry.imageTags), entry.imagePushedAt),
        )
        for page_index, page in enumerate(pages)
        for index, entry in enumerate(page.imageDetails)
    ]
    note = None
    if pages[-1].nextToken:
        # The CLI paginates itself; a nextToken means --max-items cut the listing short.
        note = (
            f"images {path}: the last page has a nextToken, so the dump is incomplete; images on later pages "
            "are not evaluated (omit --max-items, or fetch them with --starting-token and pass every page)"
        )
    return _unique_images_at(path, entries), note


def _unique_images_at(path: Path, entries: list[tuple[str, str, str, Image]]) -> list[Image]:
    """The images, each (where, digest key, tags key, image); InputError when a digest or a tag repeats within a
    repository."""
    problems: list[ConfigProblem] = []
    seen_digests: set[tuple[str, str]] = set()
    seen_tags: set[tuple[str, str]] = set()
    for where, digest_key, tags_key, image in entries:
        if (image.repository, image.digest) in seen_digests:
            problems.append(ConfigProblem(where + digest_key, repr(image.digest), "listed twice in its repository"))
        seen_digests.add((image.repository, image.digest))
        for tag in image.tags:
            if (image.repository, tag) in seen_tags:
                problems.append(ConfigProblem(where + tags_key, repr(tag), "a tag names one image per repository"))
            seen_tags.add((image.repository, tag))
    if problems:
        raise InputError(f"images {path}: {ConfigError(problems)}")
    return [image for *_, image in entries]


def parse_now(value: str) -> datetime:
    try:
        now = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--now must be an ISO time like 2026-01-31T00:00:00Z (got {value!r})"
        ) from None
    if now.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--now needs a time zone, e.g. 2026-01-31T00:00:00Z (got {value!r})")
    return now


def ecr_policy_document(document: Any, path: Path) -> Any:
    """The lifecycle policy of `aws ecr get-lifecycle-policy` output; any other document as it is."""
    if not (isinstance(document, dict) and "lifecyclePolicyText" in document):
        return document
    text = document["lifecyclePolicyText"]
    if not isinstance(text, str):
        raise InputError(
            f"policy {path}: lifecyclePolicyText: got a {type(text).__name__}; must be the policy as a JSON string "
            "(as get-lifecycle-policy prints it)"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"policy {path}: lifecyclePolicyText: not JSON ({error})") from None


def declared_stack(args: argparse.Namespace) -> tuple[StackSpec, Path]:
    """The validated spec of --stack/--stack-file, and its path; InputError saying what is wrong with the file."""
    path: Path = args.stack_file or stack_file(args.stack)
    if not path.is_file():
        known = ", ".join(sorted(stack_name(p) for p in (PROJECT_DIR / "stacks").glob("Pulumi.*.yaml")))
        raise InputError(f"stack {path}: no such stack file (stacks: {known})")
    try:
        config = read_stack_config(path)
    except (yaml.YAMLError, AttributeError) as error:  # AttributeError: the file is YAML but not a mapping
        raise InputError(f"stack {path}: not a stack file (a YAML mapping with a config: key): {error}") from None
    try:
        spec = load_stack_spec(config, stack_name(path), PROJECT_DIR)
    except ConfigError as error:
        raise InputError(f"stack {path}: {error}") from None
    return spec, path


def declared_ecr_policy(args: argparse.Namespace) -> tuple[Any, str]:
    """The lifecycle policy document the stack declares for --repository (its own retention over the defaults),
    or None when it declares none; and where it comes from, for messages."""
    spec, path = declared_stack(args)
    if spec.ecr is None:
        raise InputError(f"stack {path}: declares no registries:ecr, so --stack needs another stack")
    where = f"stack {stack_name(path)}, repository {args.repository}"
    for repository in spec.ecr.repositories:
        if repository.name == args.repository:
            intent = retention_intent(spec.ecr.effective(repository))
            return (None if intent is None else ecr.compile_lifecycle_policy(intent)), where
    declared = ", ".join(repo.name for repo in spec.ecr.repositories)
    raise InputError(f"--repository {args.repository!r}: not a repository of {path}; declared: {declared}")


def declared_acr_policy(args: argparse.Namespace) -> tuple[Any, str]:
    """The ACR document the stack's registry declares (retention policy days + the purge task's per-repository
    filters, as the Acr component builds them), or None when it deletes nothing; and where it comes from."""
    spec, path = declared_stack(args)
    if spec.acr is None:
        raise InputError(f"stack {path}: declares no registries:acr, so --stack needs another stack")
    declared = [repo.name for repo in spec.acr.repositories]
    if args.repository is not None and args.repository not in declared:
        raise InputError(
            f"--repository {args.repository!r}: not a repository of {path}; declared: {', '.join(declared)}"
        )
    document = acr_purge_document(acr_args(spec.acr, spec.is_production))
    where = f"stack {stack_name(path)}" + (f", repository {args.repository}" if args.repository else "")
    return (document if document["retentionDays"] is not None or document["purge"] else None), where


def declared_artifact_registry_policy(args: argparse.Namespace) -> tuple[Any, str]:
    """The `cleanupPolicies` map the stack declares for the Artifact Registry repository, gcr.io domain or mirror
    --repository (exactly what the component sends), or None when it declares none; and where it comes from."""
    spec, path = declared_stack(args)
    if spec.artifact_registry is None:
        raise InputError(f"stack {path}: declares no registries:artifactRegistry, so --stack needs another stack")
    mapped = artifact_registry_args(spec.artifact_registry, spec.is_production)
    where = f"stack {stack_name(path)}, repository {args.repository}"
    candidates = [*mapped.get("repositories", []), *mapped.get("mirrors", [])]
    for repository in candidates:
        if repository["name"] == args.repository:
            return compiled_cleanup(repository.get("retention"), "retention") or None, where
    declared = ", ".join(repository["name"] for repository in candidates)
    raise InputError(f"--repository {args.repository!r}: not a repository of {path}; declared: {declared}")


# Platforms whose policy --stack/--stack-file can read from a stack file, and whether they need --repository.
DECLARED_POLICIES: dict[str, tuple[Callable[[argparse.Namespace], tuple[Any, str]], bool]] = {
    "ecr": (declared_ecr_policy, True),
    "acr": (declared_acr_policy, False),
    "artifact-registry": (declared_artifact_registry_policy, True),
}


def _policy_source_problem(args: argparse.Namespace) -> str | None:
    from_stack = args.stack is not None or args.stack_file is not None
    if args.stack is not None and args.stack_file is not None:
        return "give --stack or --stack-file, not both"
    if from_stack and args.policy is not None:
        return "give --policy or --stack/--stack-file with --repository, not both"
    if from_stack and args.platform not in DECLARED_POLICIES:
        platforms = ", ".join(DECLARED_POLICIES)
        return f"--stack/--stack-file work with --platform {platforms} (got --platform {args.platform})"
    if from_stack and args.repository is None and DECLARED_POLICIES[args.platform][1]:
        return f"--stack/--stack-file need --repository NAME (one of the stack's {args.platform} repositories)"
    if not from_stack and args.repository is not None:
        return "--repository needs --stack or --stack-file"
    if not from_stack and args.policy is None:
        return "give --policy POLICY.json, or (for ecr) --stack STACK --repository NAME"
    return None


def cmd_simulate(args: argparse.Namespace) -> int:
    if (problem := _policy_source_problem(args)) is not None:
        print(f"registryctl: retention simulate: {problem}", file=sys.stderr)
        return EXIT_INVALID
    source = str(args.policy)
    try:
        images, note = load_images(args.images)
        if args.policy is None:
            document, source = DECLARED_POLICIES[args.platform][0](args)
            # Artifact Registry: the images are those of --repository, each `repository` the package inside it.
            by_repository = args.repository if args.platform != "artifact-registry" else None
            others = [image for image in images if by_repository and image.repository != by_repository]
            if others:
                print(f"registryctl: skipping {len(others)} images of other repositories", file=sys.stderr)
            images = [image for image in images if not by_repository or image.repository == by_repository]
        else:
            document = _json(args.policy, "policy")
            if args.platform == "ecr":
                document = ecr_policy_document(document, args.policy)
        if note is not None:
            print(f"registryctl: {note}", file=sys.stderr)
        now = args.now or datetime.now(UTC)
        if document is None:
            print(f"registryctl: {source} declares no retention: no lifecycle policy, nothing expires", file=sys.stderr)
            outcome = Outcome.of(images, set())
        else:
            outcome = SIMULATORS[args.platform](document, images, now)
    except InputError as error:
        print(f"registryctl: {error}", file=sys.stderr)
        return EXIT_INVALID
    except (PolicyError, ConfigError) as error:
        print(f"registryctl: policy {source}: {error}", file=sys.stderr)
        return EXIT_INVALID
    result = {"expire": sorted(d for _, d in outcome.expire), "keep": sorted(d for _, d in outcome.keep)}
    print(json.dumps(result, indent=2))
    return EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    try:
        intent = load_retention(_json(args.intent, "intent"))
        text = COMPILERS[args.platform](intent)
    except InputError as error:
        print(f"registryctl: {error}", file=sys.stderr)
        return EXIT_INVALID
    except ConfigError as error:
        print(f"registryctl: intent {args.intent}: {error}", file=sys.stderr)
        return EXIT_INVALID
    except PolicyError as error:
        print(f"registryctl: {args.platform} cannot express retention.{error}", file=sys.stderr)
        return EXIT_INVALID
    print(text)
    return EXIT_OK


def add_retention_commands(sub: Any) -> None:
    """Register `retention simulate` and `retention compile` on registryctl's subcommand parser."""
    retention = sub.add_parser("retention", help="simulate and compile retention policies (no cloud access needed)")
    actions = retention.add_subparsers(dest="retention_command", required=True)
    simulate = actions.add_parser("simulate", help="print which images a policy expires and keeps")
    simulate.add_argument("--platform", required=True, choices=list(SIMULATORS))
    simulate.add_argument(
        "--policy",
        type=Path,
        help="the native document (intent: the retention block; ecr: also `aws ecr get-lifecycle-policy` output)",
    )
    simulate.add_argument(
        "--stack",
        help="ecr, acr, artifact-registry: instead of --policy, the policy stacks/Pulumi.<STACK>.yaml declares "
        "(ecr, artifact-registry: for --repository)",
    )
    simulate.add_argument("--stack-file", type=Path, help="as --stack, with a stack file path")
    simulate.add_argument(
        "--repository", help="with --stack/--stack-file: the repository name, e.g. team/api (acr: optional)"
    )
    simulate.add_argument(
        "--images",
        required=True,
        type=Path,
        help="JSON list of {repository, digest, tags, pushedAt}; ecr: also `aws ecr describe-images` output, "
        "or a list of such pages",
    )
    simulate.add_argument("--now", type=parse_now, help="evaluation time, ISO 8601 with zone; default: now")
    simulate.set_defaults(run=cmd_simulate)
    compile_ = actions.add_parser("compile", help="print the platform's native document for a retention block")
    compile_.add_argument("--platform", required=True, choices=list(COMPILERS))
    compile_.add_argument("--intent", required=True, type=Path, help="the retention block as JSON")
    compile_.set_defaults(run=cmd_compile)
    apply = actions.add_parser(
        "apply",
        help="delete what the stack's retention blocks expire, on its self-hosted registry and its Docker Hub "
        "repositories (plan only, unless --yes)",
    )
    apply.add_argument("-s", "--stack", required=True, help="stack name, e.g. local")
    apply.add_argument("--backend", help="Pulumi backend URL; default as for `registryctl up`")
    apply.add_argument("--yes", action="store_true", help="really delete the expired manifests (Docker Hub: tags)")
    apply.add_argument("--now", type=parse_now, help="evaluation time, ISO 8601 with zone; default: now")
    apply.add_argument("--user", help="registry user to act as; default: the first")
    apply.add_argument(
        "--delete-interval", type=float, default=0.0, metavar="SECONDS", help="pause between deletes; default 0"
    )
    apply.set_defaults(run=_cmd_apply)


def _cmd_apply(args: argparse.Namespace) -> int:
    from registryctl.retention_apply import cmd_apply  # late: it needs the Pulumi stack helpers of registryctl.cli

    return cmd_apply(args)
