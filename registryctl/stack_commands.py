"""The commands on a stack as a whole: `validate` (its file against the config schema), `preview`/`up`/`refresh`/
`destroy` (the engine through the Automation API, which needs the Pulumi CLI) and `outputs`.

Imports are late on purpose: `validate` loads no Pulumi provider SDK."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registryctl.errors import EXIT_CONFIG, UsageError
from registryctl.stack_files import StackFileError, missing_stack_error, stack_file, stack_name
from registryctl.stack_outputs import declared_spec, open_stack, outputs_with_secrets, project_dir

if TYPE_CHECKING:
    from registries.config import StackSpec


def _config_keys(spec: Any) -> list[str]:
    """The top-level config keys (`selfHosted`, `dockerHub`, ...) a validated spec declares."""
    fields = type(spec).model_fields
    return [info.alias or name for name, info in fields.items() if name != "stack" and getattr(spec, name) is not None]


def cmd_validate(args: argparse.Namespace) -> int:
    from registries.config import ConfigError
    from registryctl import automation

    project = project_dir(args)

    if args.stack and args.stack_file:
        raise UsageError("give -s/--stack or --stack-file, not both")
    paths = [Path(p) for p in args.stack_file] or ([stack_file(args.stack, project)] if args.stack else [])
    if args.stack and not paths[0].is_file():
        raise missing_stack_error(paths[0], project)
    if not paths:
        paths = sorted((project / "stacks").glob("Pulumi.*.yaml"))
    status = 0
    for path in paths:  # a bad file is reported and the others are still checked
        try:
            spec = automation.stack_file_spec(path, stack_name(path), project)
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


def _checked_spec(args: argparse.Namespace) -> StackSpec:
    """Everything checked before the engine or the CLI is touched: the stack file and its config, the extras
    it needs, the --backend URL."""
    from registryctl.backend import check_backend_url
    from registryctl.extras import require_extras

    spec = declared_spec(args)
    require_extras(spec, args.stack)
    if args.backend:
        check_backend_url(args.backend)
    return spec


def cmd_engine(args: argparse.Namespace) -> int:
    from registryctl import automation
    from registryctl.interrupt import cancel_on_interrupt
    from registryctl.progress import Progress

    if args.command == "destroy" and not args.yes:
        raise UsageError("destroy needs --yes; data volumes and buckets are retained either way")
    # Bad config, a missing extra or a bad --backend stop here, before the CLI or any plugin is touched.
    spec = _checked_spec(args) if args.command != "destroy" else None
    if args.command == "up":  # refuse before anything runs, not after the preview
        automation.refuse_unless_askable(args.stack, args.yes, sys.stdin)
    # The guardrails pack (docs/guardrails.md): --policy-pack DIR, the project's policy/ by default, --no-policy.
    packs = automation.policy_packs(
        args.command, getattr(args, "policy_pack", None), getattr(args, "no_policy", False), project_dir(args)
    )
    stack = open_stack(args)
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
    from registryctl.progress import masked

    print(json.dumps(masked(outputs_with_secrets(open_stack(args)), args.show_secrets), indent=2, sort_keys=True))
    return 0
