"""Drive the program through the Pulumi Automation API: open a stack on the right backend, install its
plugins, preview / deploy with a live display, ask before deploying to production.

These functions are what `registryctl` runs and what examples/automation/promote.py imports.
The Automation API runs the `pulumi` CLI underneath (it must be on PATH).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, TextIO

from registries.config import PROJECT, ConfigError, StackSpec, load_stack_spec, plain_secret_problems
from registries.config.base import is_production_stack
from registryctl.backend import check_backend_url, choose_backend
from registryctl.errors import PulumiCliMissing
from registryctl.plugins import Plugin, cli_stderr, install_plugins, required_plugins
from registryctl.progress import Progress
from registryctl.registry_client import RegistryCtlError
from registryctl.stack_files import PROJECT_DIR, raw_stack_config, read_stack_config, stack_file

NO_CLI_MESSAGE = (
    "this command needs the Pulumi CLI (install it from https://www.pulumi.com/docs/install/); "
    "`registryctl validate` works without it"
)
_announced: set[str] = set()  # notes already printed by this process: say each only once


class NotConfirmed(RegistryCtlError):
    """The user declined, or could not be asked, to deploy to a production stack."""


class EngineError(RegistryCtlError):
    """The Pulumi CLI ran and failed; the message carries its stderr (the event display showed the rest)."""


def stack_spec(stack: str, project_dir: Path = PROJECT_DIR) -> StackSpec:
    """The validated config of stacks/Pulumi.<stack>.yaml (encrypted values stand in as placeholders)."""
    return stack_file_spec(stack_file(stack, project_dir), stack, project_dir)


def _holds_encrypted(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_holds_encrypted(v) for v in value.values())
    return isinstance(value, list) and any(_holds_encrypted(v) for v in value)


def stack_file_spec(path: Path, stack: str, project_dir: Path = PROJECT_DIR) -> StackSpec:
    """The validated config of a stack file, refusing secrets held in plain text as the program does (a key
    with any `secure:` value in it is secret as a whole to the program, so the same rule applies here)."""
    spec = load_stack_spec(read_stack_config(path, project_dir), stack, project_dir)
    config = raw_stack_config(path, project_dir)
    if problems := plain_secret_problems(spec, lambda key: _holds_encrypted(config.get(f"{PROJECT}:{key}"))):
        raise ConfigError(problems)
    return spec


def open_stack(
    name: str,
    backend: str | None = None,
    project_dir: Path = PROJECT_DIR,
    err: TextIO | None = None,
) -> Any:
    """Select (or create) the stack, on `backend` or the backend the user chose, or the per-user default."""
    if backend:  # a bad --backend is a usage error (exit 2), said before looking for the CLI
        check_backend_url(backend)
    if shutil.which("pulumi") is None:
        raise PulumiCliMissing(NO_CLI_MESSAGE)
    from pulumi import automation as auto

    choice = choose_backend(backend, project_dir, project_dir / "stacks" / f"Pulumi.{name}.yaml")
    if choice.note and choice.note not in _announced:
        _announced.add(choice.note)
        print(choice.note, file=err or sys.stderr)
    options = auto.LocalWorkspaceOptions(env_vars=choice.env)
    try:
        return auto.create_or_select_stack(stack_name=name, work_dir=str(project_dir), opts=options)
    except auto.errors.CommandError as error:
        raise engine_error(f"selecting stack {name}", error) from None
    except auto.errors.InvalidVersionError as error:  # a CLI older than the SDK's minimum, or a new major
        raise RegistryCtlError(f"this Pulumi CLI cannot be used with the installed SDK: {error}") from None


def config_value(stack: Any, key: str) -> str | None:
    """A stack config value, decrypted by the CLI (`pulumi config get`), or None when it is not set."""
    from pulumi.automation.errors import CommandError

    try:
        return str(stack.get_config(key).value)
    except CommandError:
        return None


def engine_error(action: str, error: Exception) -> EngineError:
    """The CLI's own complaint (its stderr), not the Automation API's dump of the whole command result."""
    return EngineError(f"{action} failed: {cli_stderr(error) or error}")


def prepare(stack: Any, spec: StackSpec) -> list[Plugin]:
    """Install the plugins `spec` needs through the stack's workspace; returns them."""
    plugins = required_plugins(spec)
    install_plugins(stack.workspace, plugins)
    return plugins


POLICY_PACK_DIR = "policy"
"""The guardrails policy pack of this project (docs/guardrails.md), run by `up` and `preview` unless --no-policy."""


def policy_packs(
    command: str, given: str | None, disabled: bool, project_dir: Path = PROJECT_DIR, err: TextIO | None = None
) -> list[Path]:
    """The policy packs `preview`/`up` run: --policy-pack DIR, else the project's guardrails (policy/) when the
    project has them; none with --no-policy or for other commands. A Python pack's virtualenv is created first."""
    if command not in ("preview", "up") or disabled:
        return []
    if given is None and not (project_dir / POLICY_PACK_DIR / "PulumiPolicy.yaml").is_file():
        return []
    pack = Path(given).resolve() if given else project_dir / POLICY_PACK_DIR
    if not (pack / "PulumiPolicy.yaml").is_file():
        raise RegistryCtlError(f"--policy-pack {given}: {pack} holds no PulumiPolicy.yaml (not a policy pack)")
    ensure_policy_venv(pack, err)
    return [pack]


def ensure_policy_venv(pack: Path, err: TextIO | None = None) -> None:
    """The CLI runs a local Python policy pack in the pack's own virtualenv (`venv`, PulumiPolicy.yaml) and does
    not create it: create it once from the pack's requirements.txt, saying so, as plugins are installed."""
    requirements = pack / "requirements.txt"
    venv = pack / "venv"
    if not requirements.is_file() or any(venv.glob("lib/python3*/site-packages/pulumi_policy/__init__.py")):
        return
    print(f"creating the policy pack's virtualenv {venv} (pip install -r {requirements})", file=err or sys.stderr)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            str(requirements),
        ],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RegistryCtlError(
                f"could not create the policy pack's virtualenv ({' '.join(step[-4:])} exited {result.returncode}): "
                f"{result.stderr.strip()[-800:]}\ncreate it where PyPI is reachable: python3 -m venv {venv} && "
                f"{venv}/bin/pip install -r {requirements}; or run without the guardrails: --no-policy"
            )


class PolicyViolations:
    """The policy events of one operation: shown after it, and named in its error when it fails."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def on_event(self, event: Any) -> None:
        policy = getattr(event, "policy_event", None)
        if policy is not None:
            message = " ".join(str(policy.message).split())
            self.lines.append(f"{policy.enforcement_level} {policy.policy_name}: {message}")

    def text(self) -> str:
        return "".join(f"\n  {line}" for line in self.lines)


def can_ask(stdin: TextIO | None) -> bool:
    return stdin is not None and not stdin.closed and stdin.isatty()


def confirm(question: str, stdin: TextIO | None = None, err: TextIO | None = None) -> bool:
    """Ask on the terminal; only `y`/`yes` says yes."""
    stdin = stdin or sys.stdin
    err = err or sys.stderr
    print(f"{question} [y/N] ", end="", file=err, flush=True)
    return bool(stdin) and stdin.readline().strip().lower() in ("y", "yes")


def refuse_unless_askable(stack: str, yes: bool, stdin: TextIO | None) -> None:
    """Before anything runs: a production `up` without --yes needs a terminal to ask on."""
    if is_production_stack(stack) and not yes and not can_ask(stdin):
        raise NotConfirmed(
            f"`up -s {stack}` shows the preview and asks before deploying to a production stack, but stdin is "
            "not a terminal; rerun with --yes to deploy without asking"
        )


def run(
    stack: Any, command: str, progress: Progress, policy_packs: list[Path] | None = None
) -> dict[str, tuple[Any, bool]] | None:
    """One engine operation with the live display; returns the stack outputs after `up`. `preview` and `up` run
    `policy_packs` (--policy-pack); their violations are listed after the display, and in the error on failure."""
    from pulumi import automation as auto

    violations = PolicyViolations()

    def on_event(event: Any) -> None:
        violations.on_event(event)
        progress.on_event(event)

    packs = {"policy_packs": [str(p) for p in policy_packs]} if policy_packs else {}
    try:
        if command == "preview":
            stack.preview(on_event=on_event, **packs)
            progress.finish()
            _show_violations(violations, progress)
            return None
        if command == "up":
            result = stack.up(on_event=on_event, **packs)
            outputs = {k: (v.value, v.secret) for k, v in result.outputs.items()}
            progress.finish(outputs)
            _show_violations(violations, progress)
            return outputs
        if command == "refresh":
            stack.refresh(on_event=progress.on_event)
        elif command == "destroy":
            # The Automation API destroys with --skip-preview, which would delete unprotected resources
            # (the running registry) before stopping at a protected one; the preview stops first instead.
            try:
                stack.preview_destroy()
            except auto.errors.CommandError as error:
                progress.finish(status="failed")
                raise engine_error(
                    f"`pulumi destroy` preview of stack {stack.name} (nothing was deleted)", error
                ) from None
            stack.destroy(on_event=progress.on_event)
        else:
            raise ValueError(f"unknown engine command {command!r}")
        progress.finish()
        return None
    except auto.errors.CommandError as error:
        progress.finish(status="failed")
        failed = engine_error(f"`pulumi {command}` of stack {stack.name}", error)
        if violations.lines:
            failed = EngineError(f"{failed}\npolicy violations (docs/guardrails.md):{violations.text()}")
        raise failed from None


def _show_violations(violations: PolicyViolations, progress: Progress) -> None:
    """Advisory violations of a run that passed (mandatory ones fail it): on stderr, or as the JSON events only."""
    if violations.lines and not progress.as_json:
        print(f"policy violations (advisory here, mandatory on prod* stacks):{violations.text()}", file=sys.stderr)


def deploy(
    stack: Any,
    yes: bool = False,
    as_json: bool = False,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    policy_packs: list[Path] | None = None,
) -> dict[str, tuple[Any, bool]]:
    """`up`; on a production stack first the preview and a question, unless `yes`. Returns the outputs."""
    stdin = sys.stdin if stdin is None else stdin
    if is_production_stack(stack.name) and not yes:
        refuse_unless_askable(stack.name, yes, stdin)
        run(stack, "preview", Progress("preview", stack.name, as_json, out, err), policy_packs)
        if not confirm(f"Deploy these changes to {stack.name}?", stdin, err):
            raise NotConfirmed(f"not deployed: {stack.name} is unchanged")
    outputs = run(stack, "up", Progress("up", stack.name, as_json, out, err), policy_packs)
    assert outputs is not None
    return outputs
