"""registryctl: validate stack files, and drive `up`/`preview`/`refresh`/`destroy`/`outputs` through the
Pulumi Automation API (which needs the Pulumi CLI); `login` and `verify` use the stack's outputs.

This module is the parser and the dispatch: each command lives in one module it imports when the command runs
(stack_commands: validate, the engine commands, outputs; access: login, verify; gc; retention_cli: retention),
and those share the stack preamble of stack_outputs. Nothing imports this module back: what it decides (the
project directory, verify's probe) goes down as data. Imports are late on purpose: `--help`, `--version` and
`validate` load no Pulumi provider SDK."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
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
from registryctl.stack_files import PROJECT_DIR, StackFileError

if TYPE_CHECKING:
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


def cmd_validate(args: argparse.Namespace) -> int:
    from registryctl.stack_commands import cmd_validate as run

    return run(args)


def cmd_engine(args: argparse.Namespace) -> int:
    from registryctl.stack_commands import cmd_engine as run  # late: the Automation API

    return run(args)


def cmd_outputs(args: argparse.Namespace) -> int:
    from registryctl.stack_commands import cmd_outputs as run

    return run(args)


image_probe: ImageProbe | None = None
"""How verify pushes and pulls its probe image (default: the docker CLI; unit tests put a recording fake here)."""


def cmd_login(args: argparse.Namespace) -> int:
    from registryctl.access import cmd_login as run

    return run(args)


def cmd_verify(args: argparse.Namespace) -> int:
    from registryctl.access import cmd_verify as run

    return run(args, probe=image_probe)


def cmd_gc(args: argparse.Namespace) -> int:
    from registryctl.gc import cmd_gc as run  # late: imports the Docker SDK

    return run(args)


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
    args.project_dir = PROJECT_DIR  # the commands read their stacks here (tests point it at a copy)
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
