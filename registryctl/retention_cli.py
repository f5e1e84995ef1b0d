"""`registryctl retention simulate|compile`: what a retention policy deletes, and the native document per platform.

simulate --platform {intent,ecr,artifact-registry,acr} --policy POLICY.json --images IMAGES.json [--now ISO-TIME]
    prints {"expire": [digests], "keep": [digests]}, each sorted; exit 0. A malformed file exits 2 naming the field.
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
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from components.retention import acr, artifact_registry, ecr
from components.retention.intent import evaluate
from components.retention.model import Image, Outcome, PolicyError, RetentionIntent
from schema.base import ConfigError, ConfigProblem, problems_from_validation_error
from schema.retention import load_retention

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


def load_images(path: Path) -> list[Image]:
    """The images of IMAGES.json; InputError naming the entry and field when malformed."""
    try:
        records = TypeAdapter(list[ImageRecord]).validate_json(_read(path, "images"))
    except ValidationError as error:
        raise InputError(f"images {path}: {ConfigError(problems_from_validation_error('images', error))}") from None
    problems: list[ConfigProblem] = []
    seen_digests: set[tuple[str, str]] = set()
    seen_tags: set[tuple[str, str]] = set()
    for index, record in enumerate(records):
        if (record.repository, record.digest) in seen_digests:
            problems.append(
                ConfigProblem(f"images[{index}].digest", repr(record.digest), "listed twice in its repository")
            )
        seen_digests.add((record.repository, record.digest))
        for tag in record.tags:
            if (record.repository, tag) in seen_tags:
                problems.append(
                    ConfigProblem(f"images[{index}].tags", repr(tag), "a tag names one image per repository")
                )
            seen_tags.add((record.repository, tag))
    if problems:
        raise InputError(f"images {path}: {ConfigError(problems)}")
    return [Image(r.repository, r.digest, tuple(r.tags), r.pushed_at) for r in records]


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


def cmd_simulate(args: argparse.Namespace) -> int:
    try:
        images = load_images(args.images)
        document = _json(args.policy, "policy")
        outcome = SIMULATORS[args.platform](document, images, args.now or datetime.now(UTC))
    except InputError as error:
        print(f"registryctl: {error}", file=sys.stderr)
        return EXIT_INVALID
    except PolicyError as error:
        print(f"registryctl: policy {args.policy}: {error}", file=sys.stderr)
        return EXIT_INVALID
    except ConfigError as error:
        print(f"registryctl: policy {args.policy}: {error}", file=sys.stderr)
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
        "--policy", required=True, type=Path, help="the native document (intent: the retention block)"
    )
    simulate.add_argument(
        "--images", required=True, type=Path, help="JSON list of {repository, digest, tags, pushedAt}"
    )
    simulate.add_argument("--now", type=parse_now, help="evaluation time, ISO 8601 with zone; default: now")
    simulate.set_defaults(run=cmd_simulate)
    compile_ = actions.add_parser("compile", help="print the platform's native document for a retention block")
    compile_.add_argument("--platform", required=True, choices=list(COMPILERS))
    compile_.add_argument("--intent", required=True, type=Path, help="the retention block as JSON")
    compile_.set_defaults(run=cmd_compile)
    apply = actions.add_parser(
        "apply", help="delete what the stack's selfHosted retention block expires (plan only, unless --yes)"
    )
    apply.add_argument("-s", "--stack", required=True, help="stack name, e.g. local")
    apply.add_argument("--backend", help="Pulumi backend URL; default as for `registryctl up`")
    apply.add_argument("--yes", action="store_true", help="really delete the expired manifests")
    apply.add_argument("--now", type=parse_now, help="evaluation time, ISO 8601 with zone; default: now")
    apply.add_argument("--user", help="registry user to act as; default: the first")
    apply.add_argument(
        "--delete-interval", type=float, default=0.0, metavar="SECONDS", help="pause between deletes; default 0"
    )
    apply.set_defaults(run=_cmd_apply)


def _cmd_apply(args: argparse.Namespace) -> int:
    from registryctl.retention_apply import cmd_apply  # late: it needs the Pulumi stack helpers of registryctl.cli

    return cmd_apply(args)
