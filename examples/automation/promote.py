"""Promote a change from dev to prod with the Pulumi Automation API.

    venv/bin/python -m examples.automation.promote [--dev dev] [--prod prod] [--yes] [--backend URL] [--json]

1. preview and deploy the dev stack (plugins installed first, live progress);
2. verify dev as a user would: trust its CA, `docker login`, push and pull a generated probe image;
3. preview the prod stack and stop for confirmation: deploy only on "y" at the terminal, or with --yes.
   Without a terminal and without --yes it stops after the prod preview (exit 4), so CI shows the
   gate's preview and a human reruns with --yes. The confirmed deploy is a new update, not a replay of
   the previewed plan: a change that lands between preview and "y" is deployed unseen (Pulumi's update
   plans, `preview --save-plan` / `up --plan`, would pin it; they are still experimental in the CLI).

Each step is a function to import and recombine (`promote`, `deploy_dev`, `verify_stack`, `gate_prod`);
they use registryctl's backend, passphrase and plugin handling, so no step asks anything else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from registries.config.base import is_production_stack
from registryctl import automation
from registryctl.progress import Progress
from registryctl.registry_client import RegistryCtlError, login, trust_ca, verify
from registryctl.stack_files import PROJECT_DIR

Outputs = dict[str, tuple[Any, bool]]


def verify_stack(outputs: Mapping[str, tuple[Any, bool]]) -> str:
    """Trust the stack's CA, log in as its first user, push and pull a probe image; returns the digest."""
    values = {k: v for k, (v, _secret) in outputs.items()}
    trust_ca(values)
    login(values)
    return verify(values)


def open_prepared(stack: str, backend: str | None, project_dir: Path) -> Any:
    """The stack, opened on the chosen backend, with the plugins its config needs installed."""
    spec = automation.stack_spec(stack, project_dir)
    opened = automation.open_stack(stack, backend, project_dir)
    automation.prepare(opened, spec)
    return opened


def deploy_dev(
    stack: str = "dev",
    backend: str | None = None,
    project_dir: Path = PROJECT_DIR,
    as_json: bool = False,
    out: TextIO | None = None,
) -> Outputs:
    """Preview, then deploy, a non-production stack; returns its outputs."""
    if is_production_stack(stack):
        raise RegistryCtlError(f"{stack!r} is a production stack; deploy_dev deploys without asking")
    opened = open_prepared(stack, backend, project_dir)
    automation.run(opened, "preview", Progress("preview", stack, as_json, out))
    outputs = automation.run(opened, "up", Progress("up", stack, as_json, out))
    assert outputs is not None
    return outputs


def gate_prod(
    stack: str = "prod",
    yes: bool = False,
    backend: str | None = None,
    project_dir: Path = PROJECT_DIR,
    as_json: bool = False,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> Outputs:
    """Preview the production stack; deploy it after a "y" at the terminal, or with `yes`."""
    stdin = stdin or sys.stdin
    opened = open_prepared(stack, backend, project_dir)
    automation.run(opened, "preview", Progress("preview", stack, as_json, out, err))
    if not yes:
        if not automation.can_ask(stdin):
            raise automation.NotConfirmed(
                f"{stack} previewed, not deployed: no terminal to ask on; rerun with --yes to deploy"
            )
        if not automation.confirm(f"Deploy these changes to {stack}?", stdin, err):
            raise automation.NotConfirmed(f"not deployed: {stack} is unchanged")
    outputs = automation.run(opened, "up", Progress("up", stack, as_json, out, err))
    assert outputs is not None
    return outputs


def promote(
    dev: str = "dev",
    prod: str = "prod",
    yes: bool = False,
    backend: str | None = None,
    project_dir: Path = PROJECT_DIR,
    verify_dev: Callable[[Mapping[str, tuple[Any, bool]]], str] | None = None,
    as_json: bool = False,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> Outputs:
    """dev: preview, deploy, verify (default: verify_stack); then prod: preview, confirm (or `yes`), deploy.
    Returns prod's outputs.

    Any failure raises (RegistryCtlError, schema.ConfigError) before the next step: a dev that does not
    verify never reaches the prod preview.
    """
    err = err or sys.stderr
    automation.stack_spec(prod, project_dir)  # a prod config error stops us before dev is touched
    dev_outputs = deploy_dev(dev, backend, project_dir, as_json, out)
    digest = (verify_dev or verify_stack)(dev_outputs)
    print(f"verified {dev}: pushed and pulled {digest}", file=err)
    return gate_prod(prod, yes, backend, project_dir, as_json, stdin, out, err)


def main(argv: Sequence[str] | None = None) -> int:
    from registries.config import ConfigError
    from registryctl.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_NOT_CONFIRMED

    parser = argparse.ArgumentParser(prog="promote", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--dev", default="dev", help="stack deployed and verified first (default: dev)")
    parser.add_argument("--prod", default="prod", help="stack previewed and deployed after confirmation")
    parser.add_argument("--yes", action="store_true", help="deploy prod without asking")
    parser.add_argument("--backend", help="Pulumi backend URL (default: as registryctl chooses)")
    parser.add_argument("--json", action="store_true", help="print engine events as JSON lines")
    args = parser.parse_args(argv)
    try:
        promote(args.dev, args.prod, args.yes, args.backend, as_json=args.json)
    except ConfigError as error:
        print(f"promote: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except automation.NotConfirmed as error:
        print(f"promote: {error}", file=sys.stderr)
        return EXIT_NOT_CONFIRMED
    except RegistryCtlError as error:
        print(f"promote: {error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
