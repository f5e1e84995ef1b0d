"""registryctl: validate stack files, and drive `up`/`preview`/`refresh`/`destroy`/`outputs` through the
Pulumi Automation API (which needs the Pulumi CLI); `login` and `verify` use the stack's outputs."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from registries.spec import ConfigError
from registryctl import automation
from registryctl.backend import BackendConfigError
from registryctl.progress import Progress, masked
from registryctl.registry_client import RegistryCtlError, login, trust_ca, verify
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
    stack = _stack(args.stack, args.backend)
    if spec is not None:
        automation.prepare(stack, spec)
    if args.command == "up":
        automation.deploy(stack, yes=args.yes, as_json=args.json)
    else:
        automation.run(stack, args.command, Progress(args.command, args.stack, args.json))
    return 0


def cmd_outputs(args: argparse.Namespace) -> int:
    print(json.dumps(masked(_outputs(args.stack, args.backend), args.show_secrets), indent=2, sort_keys=True))
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    outputs = {k: v for k, (v, _secret) in _outputs(args.stack, args.backend).items()}
    ca = trust_ca(outputs)
    if ca is not None:
        print(f"trusted the stack's CA at {ca}")
    print(f"logged in to {outputs['endpoint']} as {login(outputs, args.user)}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    spec = automation.stack_spec(args.stack, PROJECT_DIR)  # which kinds the stack declares
    stack = _stack(args.stack, args.backend)
    if spec.self_hosted is not None:
        outputs = {k: v.value for k, v in stack.outputs().items()}
        trust_ca(outputs)
        login(outputs, args.user)
        print(f"pushed and pulled {verify(outputs)} through {outputs['endpoint']}")
    if spec.docker_hub is not None:
        from registryctl.hub_check import hub_credentials, verify_docker_hub

        def stack_secret() -> str | None:  # asked only when the environment has no Hub credentials
            return automation.config_value(stack, "registries:dockerHubSecret")

        names = verify_docker_hub(spec.docker_hub, hub_credentials(spec.docker_hub, stack_secret), PROJECT_DIR)
        print(f"Docker Hub matches the stack: {', '.join(names)}")
    if spec.ecr is not None:  # never report success for a kind that was not checked
        raise RegistryCtlError(
            "verify does not check registries:ecr yet; log in with the stack's loginCommand output and push a "
            "probe image to check it by hand"
        )
    return 0


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
        if name == "outputs":
            command.add_argument("--show-secrets", action="store_true")
        if name == "gc":
            command.add_argument(
                "--delete-untagged",
                action="store_true",
                help="also delete manifests no tag names (on registry 2.x this breaks multi-platform images)",
            )
        if name in ("login", "verify"):
            command.add_argument("--user", help="user to log in as; default: the first")
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
