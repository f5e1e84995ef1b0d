"""registryctl: validate stack files, and drive `up`/`preview`/`refresh`/`destroy`/`outputs` through the
Pulumi Automation API (which needs the Pulumi CLI); `login` and `verify` use the stack's outputs.

Imports are late on purpose: `--help`, `--version` and `validate` load no Pulumi provider SDK."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registryctl.errors import (
    EXIT_CODES,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_MISSING_EXTRA,
    EXIT_NO_CLI,
    EXIT_NOT_CONFIRMED,
    EXIT_USAGE,
    Interrupted,
    MissingExtra,
    PulumiCliMissing,
    RegistryCtlError,
    UsageError,
)
from registryctl.stack_files import PROJECT_DIR, StackFileError, missing_stack_error, stack_file, stack_name

if TYPE_CHECKING:
    from providers.dockerhub.client import Credentials
    from registries.config import StackSpec
    from registryctl.registry_client import ImageProbe

ENGINE_COMMANDS = ("preview", "up", "refresh", "destroy")
__all__ = [  # re-exported for the tests and the helpers that import them from here
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_MISSING_EXTRA",
    "EXIT_NOT_CONFIRMED",
    "EXIT_NO_CLI",
    "EXIT_USAGE",
    "PROJECT_DIR",
    "main",
    "masked",
]


def masked(outputs: dict[str, tuple[Any, bool]], show_secrets: bool = False) -> dict[str, Any]:
    """One masking rule for `outputs` and the engine display."""
    from registryctl.progress import masked as mask

    return mask(outputs, show_secrets)


def _config_keys(spec: Any) -> list[str]:
    """The top-level config keys (`selfHosted`, `dockerHub`, ...) a validated spec declares."""
    fields = type(spec).model_fields
    return [info.alias or name for name, info in fields.items() if name != "stack" and getattr(spec, name) is not None]


def cmd_validate(args: argparse.Namespace) -> int:
    from registries.config import ConfigError
    from registryctl import automation

    if args.stack and args.stack_file:
        raise UsageError("give -s/--stack or --stack-file, not both")
    paths = [Path(p) for p in args.stack_file] or ([stack_file(args.stack, PROJECT_DIR)] if args.stack else [])
    if args.stack and not paths[0].is_file():
        raise missing_stack_error(paths[0], PROJECT_DIR)
    if not paths:
        paths = sorted((PROJECT_DIR / "stacks").glob("Pulumi.*.yaml"))
    status = 0
    for path in paths:  # a bad file is reported and the others are still checked
        try:
            spec = automation.stack_file_spec(path, stack_name(path), PROJECT_DIR)
        except ConfigError as error:
            print(f"{path.name}: {error}", file=sys.stderr)
            status = EXIT_CONFIG
            continue
        except StackFileError as error:
            print(f"registryctl: {error}", file=sys.stderr)
            status = EXIT_CONFIG
            continue
        print(f"{path.name}: valid ({', '.join(_config_keys(spec))})")
    return status


def _stack(name: str, backend: str | None = None) -> Any:
    from registryctl import automation

    return automation.open_stack(name, backend, PROJECT_DIR)


def _outputs(name: str, backend: str | None = None) -> dict[str, tuple[Any, bool]]:
    return {k: (v.value, v.secret) for k, v in _stack(name, backend).outputs().items()}


def _checked_spec(stack: str, backend: str | None) -> StackSpec:
    """Everything checked before the engine or the CLI is touched: the stack file and its config, the extras
    it needs, the --backend URL."""
    from registryctl import automation
    from registryctl.backend import check_backend_url
    from registryctl.extras import require_extras

    spec = automation.stack_spec(stack, PROJECT_DIR)
    require_extras(spec, stack)
    if backend:
        check_backend_url(backend)
    return spec


def cmd_engine(args: argparse.Namespace) -> int:
    from registryctl import automation
    from registryctl.interrupt import cancel_on_interrupt
    from registryctl.progress import Progress

    if args.command == "destroy" and not args.yes:
        raise UsageError("destroy needs --yes; data volumes and buckets are retained either way")
    # Bad config, a missing extra or a bad --backend stop here, before the CLI or any plugin is touched.
    spec = _checked_spec(args.stack, args.backend) if args.command != "destroy" else None
    if args.command == "up":  # refuse before anything runs, not after the preview
        automation.refuse_unless_askable(args.stack, args.yes, sys.stdin)
    # The guardrails pack (docs/guardrails.md): --policy-pack DIR, the project's policy/ by default, --no-policy.
    packs = automation.policy_packs(
        args.command, getattr(args, "policy_pack", None), getattr(args, "no_policy", False), PROJECT_DIR
    )
    stack = _stack(args.stack, args.backend)
    if spec is not None:
        automation.prepare(stack, spec)
    if args.command == "up":
        with cancel_on_interrupt(args.command, args.stack):
            automation.deploy(stack, yes=args.yes, as_json=args.json, policy_packs=packs)
        if not args.json:
            print(
                f"next: `registryctl outputs -s {args.stack} --show-secrets` (endpoint, passwords), "
                f"`registryctl login -s {args.stack}`, `registryctl verify -s {args.stack}`",
                file=sys.stderr,
            )
    else:
        with cancel_on_interrupt(args.command, args.stack):
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
image_probe: ImageProbe | None = None
"""How verify pushes and pulls its probe image (default: the docker CLI; unit tests put a recording fake here)."""


def _image_probe() -> ImageProbe:
    from registryctl.registry_client import DockerProbe

    return image_probe or DockerProbe()


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
    from registryctl import automation
    from registryctl.hub_check import hub_credentials

    hub = spec.docker_hub
    assert hub is not None

    def stack_secret() -> str | None:  # asked only when the environment has no Hub credentials
        return automation.config_value(stack, "registries:dockerHubSecret")

    return lambda: hub_credentials(hub, stack_secret)


def _login_kind(kind: str, args: argparse.Namespace, spec: StackSpec, stack: Any, outputs: dict[str, Any]) -> str:
    from registryctl import cloud_registries as cloud
    from registryctl.docker_config import config_dir
    from registryctl.registry_client import login, trust_ca

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
    from registryctl import cloud_registries as cloud
    from registryctl.docker_config import config_dir
    from registryctl.registry_client import login, trust_ca, verify

    docker_dir = config_dir()
    probe = _image_probe()
    if kind == "selfHosted":
        trust_ca(outputs)
        user = login(outputs, args.user)
        digest = verify(outputs, probe=probe)
        return f"self-hosted {outputs['endpoint']}: logged in as {user}, pushed and pulled {digest}"
    if kind == "ecr":
        ecr = cloud.EcrOutputs.parse(outputs.get("ecr"))
        return cloud.ecr_verify(ecr, docker_dir, probe, args.repository)
    if kind == "artifactRegistry":
        registry = cloud.ArtifactRegistryOutputs.parse(outputs.get(kind))
        return cloud.artifact_registry_verify(registry, docker_dir, probe, args.repository)
    if kind == "acr":
        acr = cloud.AcrOutputs.parse(outputs.get("acr"))
        return cloud.acr_verify(acr, docker_dir, probe, args.repository, args.user)
    from registryctl.hub_check import verify_docker_hub

    assert spec.docker_hub is not None
    names = verify_docker_hub(spec.docker_hub, _hub_provider_credentials(spec, stack)(), PROJECT_DIR)
    return f"Docker Hub: {', '.join(names)} match the stack (read-only check)"


def _kind_command(args: argparse.Namespace, run_kind: Callable[..., str]) -> int:
    from registryctl import automation

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


BACKEND_HELP = (
    "Pulumi backend URL (s3://, azblob://, gs://, https://api.pulumi.com, file://); default: "
    "PULUMI_BACKEND_URL, else your `pulumi login`, else a file backend in ~/.local/state/registries"
)
# name: (run, one-line help, example lines)
COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str, str]] = {
    "preview": (cmd_engine, "show what `up` would change (needs the Pulumi CLI)", "registryctl preview -s local"),
    "up": (
        cmd_engine,
        "deploy the stack; production stacks (prod*) show the preview and ask first",
        "registryctl up -s local",
    ),
    "refresh": (cmd_engine, "read the real resources back into the stack state", "registryctl refresh -s local"),
    "destroy": (
        cmd_engine,
        "delete the stack's resources (needs --yes; data volumes and buckets are kept)",
        "registryctl destroy -s local --yes",
    ),
    "outputs": (
        cmd_outputs,
        "print the stack outputs as JSON (endpoint, users, ...); secrets masked unless --show-secrets",
        "registryctl outputs -s local --show-secrets",
    ),
    "login": (
        cmd_login,
        "docker login to every registry the stack deployed (self-hosted: also trust its CA)",
        "registryctl login -s local",
    ),
    "verify": (
        cmd_verify,
        "log in, push and pull a probe image on every registry the stack deployed",
        "registryctl verify -s local",
    ),
    "gc": (
        cmd_gc,
        "garbage-collect the self-hosted registry's storage (read-only while it runs)",
        "registryctl gc -s local",
    ),
}


def _subparser(sub: Any, name: str, help_: str, example: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help_,
        description=help_[:1].upper() + help_[1:] + ".",
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("registries")
    except PackageNotFoundError:  # run from a checkout that was not pip-installed
        return "unknown (not installed; run `pip install -e .`)"


class _VersionAction(argparse.Action):
    """--version, looked up only when asked (importlib.metadata is slow to import)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit()


def _exit_codes_epilog() -> str:
    lines = "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items())
    return (
        "examples:\n  registryctl validate\n  registryctl up -s local\n  registryctl outputs -s local --show-secrets"
        f"\n\nexit codes:\n{lines}\n\nmore: docs/registryctl.md"
    )


def parser() -> argparse.ArgumentParser:
    from registryctl.retention_cli import add_retention_commands

    root = argparse.ArgumentParser(
        prog="registryctl",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=_exit_codes_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--version", action=_VersionAction, help="print the installed version and exit")
    root.add_argument("--debug", action="store_true", help="on an unexpected error, print the Python traceback")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = _subparser(
        sub,
        "validate",
        "check stack files against the config schema (no Pulumi CLI, no Docker needed)",
        "registryctl validate -s local",
    )
    validate.add_argument("-s", "--stack", help="stack name (stacks/Pulumi.<stack>.yaml); default: every stack file")
    validate.add_argument("--stack-file", action="append", default=[], help="a stack file path (repeatable)")
    validate.set_defaults(run=cmd_validate)
    add_retention_commands(sub)
    for name, (run, help_, example) in COMMANDS.items():
        command = _subparser(sub, name, help_, example)
        command.add_argument("-s", "--stack", required=True, help="stack name, e.g. local (stacks/Pulumi.<stack>.yaml)")
        command.add_argument("--backend", help=BACKEND_HELP)
        if name == "destroy":
            command.add_argument("--yes", action="store_true", help="really destroy (required)")
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
            command.add_argument("--show-secrets", action="store_true", help="print secret outputs (passwords)")
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


def _exit_code(error: RegistryCtlError) -> int:
    from registryctl.backend import BackendConfigError

    codes: list[tuple[type[RegistryCtlError], int]] = [
        (PulumiCliMissing, EXIT_NO_CLI),
        (MissingExtra, EXIT_MISSING_EXTRA),
        (Interrupted, EXIT_INTERRUPTED),
        (UsageError, EXIT_USAGE),
        (StackFileError, EXIT_USAGE),
        (BackendConfigError, EXIT_USAGE),
    ]
    from registryctl.automation import NotConfirmed

    codes.append((NotConfirmed, EXIT_NOT_CONFIRMED))
    return next((code for kind, code in codes if isinstance(error, kind)), EXIT_FAILED)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from registries.config import ConfigError

    try:
        return int(args.run(args))
    except ConfigError as error:
        print(f"registryctl: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except RegistryCtlError as error:
        print(f"registryctl: {error}", file=sys.stderr)
        return _exit_code(error)
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say to it
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the interpreter's final flush cannot fail
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("registryctl: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # last resort: one line, the trace only with --debug
        if args.debug:
            raise
        print(
            f"registryctl: unexpected error: {type(error).__name__}: {error} (rerun with --debug for the trace)",
            file=sys.stderr,
        )
        return EXIT_FAILED
