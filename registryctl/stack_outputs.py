"""The preamble of every command that works on a deployed stack, in one place: the stack's validated config,
the stack opened on its backend, its outputs, and Docker Hub credentials that fall back to the stack's secret.

The CLI decides the project directory and hands it down as `args.project_dir` (registryctl.cli.main sets it);
a caller that builds its own Namespace without one gets the checkout's. Nothing here imports the CLI or a
command module: data flows cli -> command modules -> this module. Imports are late (the Automation API and
pydantic load only when a command runs)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registryctl.stack_files import PROJECT_DIR

if TYPE_CHECKING:
    from providers.dockerhub.client import Credentials
    from registries.config import StackSpec
    from registries.config.dockerhub import DockerHubSpec

HUB_SECRET_KEY = "registries:dockerHubSecret"  # noqa: S105 - a config key, not a secret
"""The stack's secret config that holds a Docker Hub token when the environment has none."""


def project_dir(args: argparse.Namespace) -> Path:
    """The project whose stacks/ the command reads: the CLI's choice, else the checkout."""
    return getattr(args, "project_dir", None) or PROJECT_DIR


def declared_spec(args: argparse.Namespace) -> StackSpec:
    """The validated config of stacks/Pulumi.<args.stack>.yaml: checked before the engine is touched."""
    from registryctl import automation

    return automation.stack_spec(args.stack, project_dir(args))


def open_stack(args: argparse.Namespace) -> Any:
    """The Automation API stack `args.stack` on `args.backend` (or the user's backend)."""
    from registryctl import automation

    return automation.open_stack(args.stack, args.backend, project_dir(args))


def output_values(stack: Any) -> dict[str, Any]:
    """The stack's outputs, plain values (secrets decrypted)."""
    return {key: output.value for key, output in stack.outputs().items()}


def outputs_with_secrets(stack: Any) -> dict[str, tuple[Any, bool]]:
    """The stack's outputs as (value, is secret), for printing them masked."""
    return {key: (output.value, output.secret) for key, output in stack.outputs().items()}


def hub_credentials_of(hub: DockerHubSpec, stack: Callable[[], Any]) -> Credentials:
    """Docker Hub credentials from the environment, else the stack's registries:dockerHubSecret (the stack is
    asked, via `stack()`, only then)."""
    from registryctl import automation
    from registryctl.hub_check import hub_credentials

    return hub_credentials(hub, lambda: automation.config_value(stack(), HUB_SECRET_KEY))
