"""`registryctl retention simulate|compile|apply`: what a retention policy deletes, and the native document per
platform.

simulate --platform {intent,ecr,artifact-registry,acr} --policy POLICY --images IMAGES [--now ISO-TIME]
    prints {"expire": [...], "keep": [...]}: one entry per image, {repository, digest, tags, rule}, sorted by
    repository and digest, `rule` naming what decided (the governing intent rule, the ECR rule, the cleanup
    policies, the ACR step); exit 0. POLICY is JSON or YAML (a bare retention block or one under `retention:`),
    IMAGES a JSON (or YAML) list of {repository, digest, tags, pushedAt, subject?}: `subject` is the digest a
    referrer's manifest names (cosign's sha256-<hex>.sig/.att/.sbom tags and the sha256-<hex> referrers tag name it
    by themselves); a referrer's entry carries "subject" and goes with that subject. A malformed file exits 2 naming
    the file and the field. For ecr, --images may also be `aws ecr describe-images` output (or a list of such pages)
    and --policy `aws ecr get-lifecycle-policy` output. Instead of --policy, -s/--stack (or --stack-file) reads the
    policy a stack declares: intent: registries:selfHosted.retention, or a registries:dockerHub repository's
    (--repository); ecr, artifact-registry: --repository's; acr: the registry's (optionally one --repository).
compile --platform {ecr,artifact-registry,acr} --policy FILE [--referrers]
    prints the native document (for ecr exactly the text LifecyclePolicy.policy receives), or exits 2 naming the
    rule the platform cannot express. --intent is the same flag. --referrers: the repositories hold signatures,
    attestations or SBOMs, which no cloud platform keeps exactly as long as their subject: any deleting rule exits 2.

The heavy imports (pydantic models, the platform compilers) happen when a command runs, not when the parser is
built, so `registryctl --help` stays fast."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registryctl.errors import InputError, UsageError
from registryctl.stack_files import PROJECT_DIR, StackFileError, stack_file, stack_name
from registryctl.stack_outputs import declared_spec, open_stack, output_values

if TYPE_CHECKING:
    from components.retention.model import Image, Outcome, RetentionIntent
    from registries.config import StackSpec

EXIT_OK, EXIT_INVALID = 0, 2
SIMULATE_PLATFORMS = ("intent", "ecr", "artifact-registry", "acr")
COMPILE_PLATFORMS = ("ecr", "artifact-registry", "acr")
# Platforms whose policy --stack/--stack-file can read, and whether they need --repository.
STACK_PLATFORMS = {"intent": False, "ecr": True, "acr": False, "artifact-registry": True}


def _inputs() -> Any:
    from registryctl import retention_inputs

    return retention_inputs


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


def retention_document(document: Any) -> Any:
    """A retention block given bare or under a `retention:` key (as it sits in a stack file)."""
    if isinstance(document, dict) and set(document) == {"retention"}:
        return document["retention"]
    return document


def load_intent(path: Path) -> RetentionIntent:
    from registries.config.base import ConfigError
    from registries.config.retention import load_retention

    inputs = _inputs()
    try:
        return load_retention(retention_document(inputs.read_document(path, "policy")))
    except ConfigError as error:
        raise inputs.invalid("policy", path, error.problems) from None


def declared_stack(args: argparse.Namespace) -> tuple[StackSpec, Path]:
    """The validated spec of --stack/--stack-file, and its path; InputError saying what is wrong with the file."""
    from registries.config import load_stack_spec
    from registries.config.base import ConfigError
    from registryctl.stack_files import read_stack_config

    path: Path = args.stack_file or stack_file(args.stack)
    try:
        spec = load_stack_spec(read_stack_config(path), stack_name(path), PROJECT_DIR)
    except StackFileError as error:
        raise InputError(f"stack {error}") from None
    except ConfigError as error:
        raise InputError(f"stack {path}: {error}") from None
    return spec, path


def declared_intents(args: argparse.Namespace) -> tuple[dict[str, RetentionIntent] | RetentionIntent | None, str]:
    """The retention intent the stack declares: selfHosted.retention (every repository), or with --repository
    a dockerHub repository's own (else dockerHub's); and where it comes from."""
    spec, path = declared_stack(args)
    hub = spec.docker_hub
    if args.repository is not None:
        repositories = {repo.name: repo for repo in (hub.repositories if hub is not None else [])}
        if args.repository not in repositories:
            declared = ", ".join(repositories) or "none"
            raise InputError(
                f"--repository {args.repository!r}: not a registries:dockerHub repository of {path}; "
                f"declared: {declared} (without --repository: registries:selfHosted.retention)"
            )
        assert hub is not None
        block = hub.retention_of(repositories[args.repository])
        where = f"stack {stack_name(path)}, dockerHub repository {args.repository}"
        return (None if block is None else block.intent()), where
    if spec.self_hosted is None or spec.self_hosted.retention is None:
        raise InputError(
            f"stack {path}: declares no registries:selfHosted.retention; for a Docker Hub repository's retention "
            "add --repository NAME"
        )
    return spec.self_hosted.retention.intent(), f"stack {stack_name(path)}, selfHosted.retention"


def declared_ecr_policy(args: argparse.Namespace) -> tuple[Any, str]:
    """The lifecycle policy document the stack declares for --repository (its own retention over the defaults),
    or None when it declares none; and where it comes from, for messages."""
    from components.retention import ecr
    from registries.config.ecr import retention_intent

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
    from components.acr import purge_document
    from registries.mapping.acr import acr_args

    spec, path = declared_stack(args)
    if spec.acr is None:
        raise InputError(f"stack {path}: declares no registries:acr, so --stack needs another stack")
    declared = [repo.name for repo in spec.acr.repositories]
    if args.repository is not None and args.repository not in declared:
        raise InputError(
            f"--repository {args.repository!r}: not a repository of {path}; declared: {', '.join(declared)}"
        )
    document = purge_document(acr_args(spec.acr, spec.is_production))
    where = f"stack {stack_name(path)}" + (f", repository {args.repository}" if args.repository else "")
    return (document if document["retentionDays"] is not None or document["purge"] else None), where


def declared_artifact_registry_policy(args: argparse.Namespace) -> tuple[Any, str]:
    """The `cleanupPolicies` map the stack declares for the Artifact Registry repository, gcr.io domain or mirror
    --repository (exactly what the component sends), or None when it declares none; and where it comes from."""
    from components.artifact_registry import compiled_cleanup
    from registries.mapping.artifact_registry import artifact_registry_args

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


DECLARED_POLICIES: dict[str, Callable[[argparse.Namespace], tuple[Any, str]]] = {
    "intent": declared_intents,
    "ecr": declared_ecr_policy,
    "acr": declared_acr_policy,
    "artifact-registry": declared_artifact_registry_policy,
}


def _policy_source_problem(args: argparse.Namespace) -> str | None:
    from_stack = args.stack is not None or args.stack_file is not None
    if args.stack is not None and args.stack_file is not None:
        return "give -s/--stack or --stack-file, not both"
    if from_stack and args.policy is not None:
        return "give --policy, or -s/--stack (--stack-file) to read the stack's policy, not both"
    if from_stack and args.repository is None and STACK_PLATFORMS[args.platform]:
        return f"-s/--stack with --platform {args.platform} needs --repository NAME (one of the stack's repositories)"
    if not from_stack and args.repository is not None:
        return "--repository needs -s/--stack or --stack-file"
    if not from_stack and args.policy is None:
        return "give --policy FILE (JSON or YAML), or -s/--stack STACK to read the policy the stack declares"
    return None


def _intent_reason(intent: RetentionIntent, images: list[Image]) -> Callable[[Image], str]:
    from components.retention.intent import intent_rules, referrers_of

    rules = intent_rules(intent)
    roots = referrers_of(images)

    def reason(image: Image) -> str:
        if image.refers_to is not None:
            root = roots.get(image.key)
            if root is None:
                return f"refers to {image.refers_to}, which is gone"
            return f"goes with its subject {root[1]}"
        rule = next((rule for rule in rules if rule.matches(image)), None)
        if rule is None:
            return "no rule matches"
        detail = {
            "protect": f"{rule.pattern}",
            "keepLatest": f"{rule.pattern}, newest {rule.count}",
            "untaggedDays": f"{rule.days} days",
            "taggedDays": f"{rule.days} days",
        }[rule.kind]
        return f"{rule.name} ({detail})"

    return reason


def _simulate(platform: str, document: Any, images: list[Image], now: datetime) -> tuple[Outcome, Callable]:
    """The outcome and, per image, what decided it (the platform's own rule or step)."""
    from components.retention import acr, artifact_registry, ecr
    from components.retention.intent import evaluate
    from registries.config.retention import load_retention

    if platform == "intent":
        intent = load_retention(retention_document(document))
        return evaluate(intent, images, now), _intent_reason(intent, images)
    if platform == "ecr":
        rules = ecr.parse_lifecycle_policy(document)

        def ecr_reason(image: Image) -> str:
            rule = next((r for r in rules if r.selects(image)), None)
            return "no rule selects it" if rule is None else f"rulePriority {rule.priority}"

        return ecr.simulate(rules, images, now), ecr_reason
    if platform == "artifact-registry":
        policies = artifact_registry.parse_cleanup_policies(document)

        def cleanup_reason(image: Image) -> str:
            holding = [p.policy_id for p in policies if p.keep_count is None and p.condition_holds(image, now)]
            counted = [p.policy_id for p in policies if p.keep_count is not None]
            return ", ".join(holding + counted) or "no policy's condition holds"

        return artifact_registry.simulate(policies, images, now), cleanup_reason
    policy = acr.parse_acr_policy(document)
    _, tags_left = acr.run(policy, images, now)

    def acr_reason(image: Image) -> str:
        left = tags_left.get(image.key)
        return "untagged by purge, then deleted" if not left else f"tags left after purge: {', '.join(left)}"

    return acr.simulate(policy, images, now), acr_reason


def _stack_intents(document: Any, images: list[Image], now: datetime) -> tuple[Outcome, Callable]:
    """The stack's own intent (one RetentionIntent) evaluated on every image."""
    from components.retention.intent import evaluate

    return evaluate(document, images, now), _intent_reason(document, images)


def outcome_document(outcome: Outcome, images: list[Image], reason: Callable[[Image], str]) -> dict[str, Any]:
    def entry(image: Image) -> dict[str, Any]:
        subject = {} if image.refers_to is None else {"subject": image.refers_to}  # a signature, SBOM, ... of it
        return {
            "repository": image.repository,
            "digest": image.digest,
            "tags": list(image.tags),
            **subject,
            "rule": reason(image),
        }

    ordered = sorted(images, key=lambda image: image.key)
    return {
        "expire": [entry(image) for image in ordered if image.key in outcome.expire],
        "keep": [entry(image) for image in ordered if image.key in outcome.keep],
    }


def _one_entry_a_line(document: dict[str, list[dict[str, Any]]]) -> str:
    """JSON with one image a line, so the output reads as a table and still parses."""
    parts = []
    for action, entries in document.items():
        lines = ",\n".join(f"    {json.dumps(entry)}" for entry in entries)
        parts.append(f'  "{action}": [\n{lines}\n  ]' if entries else f'  "{action}": []')
    return "{\n" + ",\n".join(parts) + "\n}"


def cmd_simulate(args: argparse.Namespace) -> int:
    from components.retention.model import Outcome, PolicyError
    from registries.config.base import ConfigError

    if (problem := _policy_source_problem(args)) is not None:
        print(f"registryctl: retention simulate: {problem}", file=sys.stderr)
        return EXIT_INVALID
    inputs = _inputs()
    source = f"policy file {args.policy}"
    try:
        images, note = inputs.load_images(args.images)
        if args.policy is None:
            document, source = DECLARED_POLICIES[args.platform](args)
            # Artifact Registry: the images are those of --repository, each `repository` the package inside it.
            # Intent on Docker Hub: --repository names the Hub repository, the images' `repository` too.
            by_repository = args.repository if args.platform != "artifact-registry" else None
            others = [image for image in images if by_repository and image.repository != by_repository]
            if others:
                print(f"registryctl: skipping {len(others)} images of other repositories", file=sys.stderr)
            images = [image for image in images if not by_repository or image.repository == by_repository]
        else:
            document = inputs.read_document(args.policy, "policy")
            if args.platform == "ecr":
                document = inputs.ecr_policy_document(document, args.policy)
        if note is not None:
            print(f"registryctl: {note}", file=sys.stderr)
        now = args.now or datetime.now(UTC)
        if document is None:
            print(f"registryctl: {source} declares no retention: no lifecycle policy, nothing expires", file=sys.stderr)
            outcome, reason = Outcome.of(images, set()), (lambda image: "no retention declared")
        elif args.platform == "intent" and args.policy is None:
            outcome, reason = _stack_intents(document, images, now)
        else:
            outcome, reason = _simulate(args.platform, document, images, now)
    except InputError as error:
        print(f"registryctl: {error}", file=sys.stderr)
        return EXIT_INVALID
    except ConfigError as error:
        print(f"registryctl: invalid {source} ({len(error.problems)} problem(s)):", file=sys.stderr)
        print("\n".join(f"  - {p}" for p in error.problems), file=sys.stderr)
        return EXIT_INVALID
    except PolicyError as error:
        print(f"registryctl: invalid {source}: {error}", file=sys.stderr)
        return EXIT_INVALID
    print(_one_entry_a_line(outcome_document(outcome, images, reason)))
    return EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    from components.retention import acr, artifact_registry, ecr
    from components.retention.model import PolicyError

    referrers = args.referrers
    compilers: dict[str, Callable[[RetentionIntent], str]] = {
        "ecr": lambda intent: ecr.lifecycle_policy_text(intent, referrers=referrers),
        "artifact-registry": lambda intent: json.dumps(
            artifact_registry.compile_cleanup_policies(intent, referrers=referrers), indent=2
        ),
        "acr": lambda intent: json.dumps(acr.compile_acr_policy(intent, referrers=referrers), indent=2),
    }
    try:
        intent = load_intent(args.policy)
        text = compilers[args.platform](intent)
    except InputError as error:
        print(f"registryctl: {error}", file=sys.stderr)
        return EXIT_INVALID
    except PolicyError as error:
        where = error.where if error.where.startswith("retention") else f"retention.{error.where}"
        print(f"registryctl: {args.platform} cannot express {where}: {error.problem}", file=sys.stderr)
        return EXIT_INVALID
    print(text)
    return EXIT_OK


EXAMPLES = "examples/retention/ (offline: no Pulumi CLI, no Docker)"


def add_retention_commands(sub: Any) -> None:
    """Register `retention simulate|compile|apply` on registryctl's subcommand parser."""
    raw = argparse.RawDescriptionHelpFormatter
    retention = sub.add_parser(
        "retention",
        help="simulate, compile and apply retention policies (simulate/compile need no cloud access)",
        description="Simulate, compile and apply retention policies.",
        epilog="examples:\n  registryctl retention simulate --platform intent "
        "--policy examples/retention/retention.yaml --images examples/retention/images.json "
        "--now 2026-01-31T00:00:00Z\n  registryctl retention apply -s local",
        formatter_class=raw,
    )
    actions = retention.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    simulate = actions.add_parser(
        "simulate",
        help="print which images a policy expires and keeps, with the rule that decided",
        description=__doc__.split("compile --platform")[0].split("\n\n", 1)[1] if __doc__ else None,
        epilog="example (" + EXAMPLES + "):\n  registryctl retention simulate --platform intent "
        "--policy examples/retention/retention.yaml --images examples/retention/images.json "
        "--now 2026-01-31T00:00:00Z",
        formatter_class=raw,
    )
    simulate.add_argument("--platform", required=True, choices=SIMULATE_PLATFORMS)
    simulate.add_argument(
        "--policy",
        type=Path,
        help="the policy file, JSON or YAML (intent: the retention block, bare or under retention:; ecr: also "
        "`aws ecr get-lifecycle-policy` output)",
    )
    simulate.add_argument(
        "-s",
        "--stack",
        help="instead of --policy, the policy stacks/Pulumi.<STACK>.yaml declares (intent: selfHosted.retention, "
        "or a dockerHub repository's with --repository; ecr, artifact-registry: --repository's; acr: the registry's)",
    )
    simulate.add_argument("--stack-file", type=Path, help="as --stack, with a stack file path")
    simulate.add_argument("--repository", help="with -s/--stack: the repository name, e.g. team/api (acr: optional)")
    simulate.add_argument(
        "--images",
        required=True,
        type=Path,
        help="JSON (or YAML) list of {repository, digest, tags, pushedAt}; ecr: also `aws ecr describe-images` "
        "output, or a list of such pages",
    )
    simulate.add_argument("--now", type=parse_now, help="evaluation time, ISO 8601 with zone; default: now")
    simulate.set_defaults(run=cmd_simulate)
    compile_ = actions.add_parser(
        "compile",
        help="print the platform's native document for a retention block",
        description="Print the native document (ECR lifecycle policy, Artifact Registry cleanup policies, ACR "
        "retention + purge) for a retention block, or name the rule the platform cannot express (exit 2).",
        epilog="example:\n  registryctl retention compile --platform ecr --policy examples/retention/retention.yaml",
        formatter_class=raw,
    )
    compile_.add_argument("--platform", required=True, choices=COMPILE_PLATFORMS)
    compile_.add_argument(
        "--policy",
        "--intent",
        dest="policy",
        required=True,
        type=Path,
        help="the retention block, JSON or YAML (bare or under retention:); --intent is the same flag",
    )
    compile_.add_argument(
        "--referrers",
        action="store_true",
        help="the repositories hold signatures, attestations or SBOMs (cosign, Notation, OCI referrers): name the "
        "first rule that could delete one apart from its subject (on every cloud platform: any rule that deletes)",
    )
    compile_.set_defaults(run=cmd_compile)
    apply = actions.add_parser(
        "apply",
        help="delete what the stack's retention blocks expire, on its self-hosted registry and its Docker Hub "
        "repositories (plan only, unless --yes)",
        description="Print the plan of what the stack's retention blocks expire (self-hosted registry, Docker Hub "
        "repositories); with --yes delete it. Run `registryctl gc` afterwards to free the blobs.",
        epilog="example:\n  registryctl retention apply -s local\n  registryctl retention apply -s local --yes",
        formatter_class=raw,
    )
    apply.add_argument("-s", "--stack", required=True, help="stack name, e.g. local")
    apply.add_argument("--backend", help="Pulumi backend URL; default as for `registryctl up`")
    apply.add_argument("--yes", action="store_true", help="really delete the expired manifests (Docker Hub: tags)")
    apply.add_argument("--now", type=parse_now, help="evaluation time, ISO 8601 with zone; default: now")
    apply.add_argument("--user", help="registry user to act as; default: the first")
    apply.add_argument(
        "--delete-interval", type=float, default=0.0, metavar="SECONDS", help="pause between deletes; default 0"
    )
    apply.set_defaults(run=cmd_apply)


def cmd_apply(args: argparse.Namespace) -> int:
    """Enforce every retention block the stack declares: the self-hosted registry's (registryctl.retention_apply),
    then Docker Hub's (registryctl.hub_retention)."""
    spec = declared_spec(args)
    hub = spec.docker_hub
    on_hub = hub is not None and any(hub.retention_of(repo) is not None for repo in hub.repositories)
    if (spec.self_hosted is None or spec.self_hosted.retention is None) and not on_hub:
        raise UsageError(
            f"stack {args.stack!r} has no retention block: set registries:selfHosted.retention, "
            "registries:dockerHub.retention, or retention on a registries:dockerHub repository"
        )
    now = args.now or datetime.now(UTC)
    if spec.self_hosted is not None and spec.self_hosted.retention is not None:
        from registryctl.retention_apply import run_apply  # late: requests

        run_apply(
            spec.self_hosted.retention.intent(),
            output_values(open_stack(args)),
            now=now,
            yes=args.yes,
            tls=spec.self_hosted.tls.mode != "none",
            user=args.user,
            interval=args.delete_interval,
            tag_deletes=spec.self_hosted.registry_major == 3,
        )
    if on_hub and hub is not None:
        from registryctl.hub_retention import cmd_hub_apply  # late: the Hub client

        cmd_hub_apply(args, hub, now)
    return 0
