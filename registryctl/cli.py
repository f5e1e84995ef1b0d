"""registryctl: validate stack files, and drive `up`/`preview`/`refresh`/`destroy`/`outputs` through the
Pulumi Automation API (which needs the Pulumi CLI); `login` and `verify` use the stack's outputs."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from providers.dockerhub.client import Credentials
from registries.spec import ConfigError, StackSpec
from registryctl import automation
from registryctl import cloud_registries as cloud
from registryctl.backend import BackendConfigError
from registryctl.docker_config import config_dir
from registryctl.progress import Progress, masked
from registryctl.registry_client import DockerProbe, ImageProbe, RegistryCtlError, login, trust_ca, verify
from registryctl.retention_cli import add_retention_commands
from registryctl.stack_files import PROJECT_DIR, stack_file, stack_name

EXIT_CONFIG, EXIT_FAILED, EXIT_NO_CLI = 2, 1, 3
EXIT_NOT_CONFIRMED = 4  # a production `up` was declined, or could not be asked (no terminal, no --yes)
ENGINE_COMMANDS = ("preview", "up", "refresh", "destroy")
__all__ = ["masked"]  # re-exported: one masking rule for `outputs` and the engine display


def cmd_validate(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.stack_file] or ([stack_file(args.stack)] if args.stack else [])
    if not paths:
        paths = sorted((PROJECT_DIR / "stacks").glob("Pulumi.*.yaml"))
    status = 0
    for path in paths:
        try:
            spec = automation.stack_file_spec(path, stack_name(path), PROJECT_DIR)
        except ConfigError as error:
            print(f"{path.name}: {error}", file=sys.stderr)
            status = EXIT_CONFIG
            continue
        except FileNotFoundError:
            print(f"{path}: no such stack file", file=sys.stderr)
            status = EXIT_CONFIG
            continue
        sections = [name for name in type(spec).model_fields if name != "stack" and getattr(spec, name) is not None]
        print(f"{path.name}: valid ({', '.join(sections)})")
    return status


def _stack(name: str, backend: str | None = None) -> Any:
    return automation.open_stack(name, backend, PROJECT_DIR)


def _outputs(name: str, backend: str | None = None) -> dict[str, tuple[Any, bool]]:
    return {k: (v.value, v.secret) for k, v in _stack(name, backend).outputs().items()}


def cmd_engine(args: argparse.Namespace) -> int:
    if args.command == "destroy" and not args.yes:
        raise RegistryCtlError("destroy needs --yes; data volumes and buckets are retained either way")
    if args.command == "up":  # refuse before anything runs, not after the preview
        automation.refuse_unless_askable(args.stack, args.yes, sys.stdin)
    # Bad config stops here, before the CLI or any plugin is touched.
    spec = automation.stack_spec(args.stack, PROJECT_DIR) if args.command != "destroy" else None
    # The guardrails pack (docs/guardrails.md): --policy-pack DIR, the project's policy/ by default, --no-policy.
    packs = automation.policy_packs(
        args.command, getattr(args, "policy_pack", None), getattr(args, "no_policy", False), PROJECT_DIR
    )
    stack = _stack(args.stack, args.backend)
    if spec is not None:
        automation.prepare(stack, spec)
    if args.command == "up":
        automation.deploy(stack, yes=args.yes, as_json=args.json, policy_packs=packs)
    else:
        automation.run(stack, args.command, Progress(args.command, args.stack, args.json), packs)
    return 0


def cmd_outputs(args: argparse.Namespace) -> int:
    print(json.dumps(masked(_outputs(args.stack, args.backend), args.show_secrets), indent=2, sort_keys=True))
    return 0


KIND_LABELS = {
    "selfHosted": "self-hosted",
    "ecr": "ECR",
    "artifactRegistry": "Artifact Registry",
    "acr": "ACR",
    "dockerHub": "Docker Hub",
}
image_probe: ImageProbe = DockerProbe()
"""How verify pushes and pulls its probe image (the docker CLI; unit tests put a recording fake here)."""


def declared_kinds(spec: Any, outputs: dict[str, Any]) -> list[str]:
    """The registry kinds the stack declares (its config), or has outputs of (kinds newer than this CLI's spec)."""
    declared = {
        "selfHosted": spec.self_hosted is not None,
        "ecr": spec.ecr is not None or "ecr" in outputs,
        "artifactRegistry": getattr(spec, "artifact_registry", None) is not None or "artifactRegistry" in outputs,
        "acr": getattr(spec, "acr", None) is not None or "acr" in outputs,
        "dockerHub": spec.docker_hub is not None,
    }
    return [kind for kind, present in declared.items() if present]


def _each_kind(kinds: list[str], run: Callable[[str], str]) -> int:
    """Run every kind (one failing does not hide the others); one line each; exit 1 if any failed."""
    failed = 0
    for kind in kinds:
        try:
            print(run(kind), flush=True)
        except RegistryCtlError as error:
            print(f"registryctl: {KIND_LABELS[kind]}: {error}", file=sys.stderr, flush=True)
            failed += 1
    return EXIT_FAILED if failed else 0


def _hub_provider_credentials(spec: StackSpec, stack: Any) -> Callable[[], Credentials]:
    from registryctl.hub_check import hub_credentials

    hub = spec.docker_hub
    assert hub is not None

    def stack_secret() -> str | None:  # asked only when the environment has no Hub credentials
        return automation.config_value(stack, "registries:dockerHubSecret")

    return lambda: hub_credentials(hub, stack_secret)


def _login_kind(kind: str, args: argparse.Namespace, spec: StackSpec, stack: Any, outputs: dict[str, Any]) -> str:
    docker_dir = config_dir()
    if kind == "selfHosted":
        ca = trust_ca(outputs)
        trusted = f" (trusted the stack's CA at {ca})" if ca is not None else ""
        return f"self-hosted {outputs.get('endpoint')}: logged in as {login(outputs, args.user)}{trusted}"
    if kind == "ecr":
        return cloud.ecr_login(cloud.EcrOutputs.parse(outputs.get("ecr")), docker_dir)
    if kind == "artifactRegistry":
        return cloud.artifact_registry_login(cloud.ArtifactRegistryOutputs.parse(outputs.get(kind)), docker_dir)
    if kind == "acr":
        return cloud.acr_login(cloud.AcrOutputs.parse(outputs.get("acr")), docker_dir, args.user)
    from registryctl.hub_check import choose_hub_login, hub_login

    assert spec.docker_hub is not None
    choice = choose_hub_login(
        spec.docker_hub,
        outputs.get("dockerHubTokens") or {},
        outputs.get("dockerHubOrgTokens") or {},
        _hub_provider_credentials(spec, stack),
        args.user,
    )
    return hub_login(spec.docker_hub, choice, docker_dir)


def _verify_kind(kind: str, args: argparse.Namespace, spec: StackSpec, stack: Any, outputs: dict[str, Any]) -> str:
    docker_dir = config_dir()
    if kind == "selfHosted":
        trust_ca(outputs)
        user = login(outputs, args.user)
        digest = verify(outputs, probe=image_probe)
        return f"self-hosted {outputs['endpoint']}: logged in as {user}, pushed and pulled {digest}"
    if kind == "ecr":
        ecr = cloud.EcrOutputs.parse(outputs.get("ecr"))
        return cloud.ecr_verify(ecr, docker_dir, image_probe, args.repository)
    if kind == "artifactRegistry":
        registry = cloud.ArtifactRegistryOutputs.parse(outputs.get(kind))
        return cloud.artifact_registry_verify(registry, docker_dir, image_probe, args.repository)
    if kind == "acr":
        acr = cloud.AcrOutputs.parse(outputs.get("acr"))
        return cloud.acr_verify(acr, docker_dir, image_probe, args.repository, args.user)
    from registryctl.hub_check import verify_docker_hub

    assert spec.docker_hub is not None
    names = verify_docker_hub(spec.docker_hub, _hub_provider_credentials(spec, stack)(), PROJECT_DIR)
    return f"Docker Hub: {', '.join(names)} match the stack (read-only check)"


def _kind_command(args: argparse.Namespace, run_kind: Callable[..., str]) -> int:
    spec = automation.stack_spec(args.stack, PROJECT_DIR)  # which kinds the stack declares
    stack = _stack(args.stack, args.backend)
    outputs = {k: v.value for k, v in stack.outputs().items()}
    kinds = declared_kinds(spec, outputs)
    return _each_kind(kinds, lambda kind: run_kind(kind, args, spec, stack, outputs))


def cmd_login(args: argparse.Namespace) -> int:
    return _kind_command(args, _login_kind)


def cmd_verify(args: argparse.Namespace) -> int:
    return _kind_command(args, _verify_kind)


def cmd_gc(args: argparse.Namespace) -> int:
    from registryctl.gc import cmd_gc as run_gc  # late: imports the Docker SDK

    return run_gc(args)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="registryctl", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "preview": cmd_engine,
        "up": cmd_engine,
        "refresh": cmd_engine,
        "destroy": cmd_engine,
        "outputs": cmd_outputs,
        "login": cmd_login,
        "verify": cmd_verify,
        "gc": cmd_gc,
    }
    validate = sub.add_parser("validate", help="check stack files against the config schema (no CLI needed)")
    validate.add_argument("-s", "--stack", help="stack name (stacks/Pulumi.<stack>.yaml); default: every stack file")
    validate.add_argument("--stack-file", action="append", default=[], help="a stack file path (repeatable)")
    validate.set_defaults(run=cmd_validate)
    add_retention_commands(sub)
    for name, run in commands.items():
        command = sub.add_parser(name)
        command.add_argument("-s", "--stack", required=True, help="stack name, e.g. local")
        command.add_argument(
            "--backend",
            help="Pulumi backend URL (s3://, azblob://, gs://, https://api.pulumi.com, file://); default: "
            "PULUMI_BACKEND_URL, else your `pulumi login`, else a file backend in ~/.local/state/registries",
        )
        if name == "destroy":
            command.add_argument("--yes", action="store_true", help="really destroy")
        if name == "up":
            command.add_argument("--yes", action="store_true", help="deploy prod* stacks without asking")
        if name in ENGINE_COMMANDS:
            command.add_argument("--json", action="store_true", help="print engine events as JSON lines")
        if name in ("preview", "up"):
            command.add_argument(
                "--policy-pack", metavar="DIR", help="policy pack to run (default: policy/, the guardrails)"
            )
            command.add_argument("--no-policy", action="store_true", help="run no policy pack")
        if name == "outputs":
            command.add_argument("--show-secrets", action="store_true")
        if name == "gc":
            command.add_argument(
                "--delete-untagged",
                action="store_true",
                help="also delete manifests no tag names (on registry 2.x this breaks multi-platform images)",
            )
        if name in ("login", "verify"):
            command.add_argument(
                "--user",
                help="self-hosted: the user to log in as; ACR and Docker Hub: the token (label) to log in with; "
                "default: the first",
            )
        if name == "verify":
            command.add_argument(
                "--repository", help="ECR, Artifact Registry, ACR: the repository to push the probe to; default: first"
            )
        command.set_defaults(run=run)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as error:
        print(f"registryctl: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except RegistryCtlError as error:
        print(f"registryctl: {error}", file=sys.stderr)
        if isinstance(error, automation.NotConfirmed):
            return EXIT_NOT_CONFIRMED
        if isinstance(error, BackendConfigError):
            return EXIT_CONFIG
        return EXIT_NO_CLI if "Pulumi CLI" in str(error) else EXIT_FAILED
