"""Read stack files without the Pulumi CLI: one reader for every command, so a bad file is one clear line
(naming the file and what is wrong), never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registryctl.errors import RegistryCtlError

PROJECT = "registries"
"""The config namespace (registries.config.PROJECT; not imported from there, so reading a file loads no schema)."""

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Stands in for an encrypted value; shaped to pass the checks of any secret key (a URL of 12-72 bytes).
SECRET_PLACEHOLDER = "https://encrypted-secret.invalid/"  # noqa: S105 - not a credential


class StackFileError(RegistryCtlError):
    """A stack file is missing, unreadable or not a stack file; nothing ran. The message names the file."""


def _placeholders(value: Any) -> Any:
    """Encrypted values (`{secure: v1:...}`) cannot be read without the CLI: stand in a placeholder."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER
        return {k: _placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    return value


def stack_file(stack: str, project_dir: Path = PROJECT_DIR) -> Path:
    return project_dir / "stacks" / f"Pulumi.{stack}.yaml"


def known_stacks(project_dir: Path = PROJECT_DIR) -> list[str]:
    return sorted(stack_name(p) for p in (project_dir / "stacks").glob("Pulumi.*.yaml"))


def missing_stack_error(path: Path, project_dir: Path = PROJECT_DIR) -> StackFileError:
    known = ", ".join(known_stacks(project_dir)) or "none"
    return StackFileError(
        f"{path}: no such stack file (stacks: {known}); create it from stacks/Pulumi.local.yaml to add a stack"
    )


def read_stack_document(path: Path, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The whole stack file as a mapping (config: plus settings such as encryptionsalt); StackFileError when the
    file is missing, unreadable, not UTF-8, not YAML, or not a mapping with a `config:` mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise missing_stack_error(path, project_dir) from None
    except IsADirectoryError:
        raise StackFileError(f"{path}: not a stack file: a directory") from None
    except UnicodeDecodeError as error:
        raise StackFileError(f"{path}: not a stack file: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise StackFileError(f"{path}: cannot be read ({error.strerror})") from None
    import yaml  # late: `registryctl --help` reads no file

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise StackFileError(f"{path}: not a stack file: invalid YAML{line}: {problem}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileError(
            f"{path}: not a stack file: got a YAML {type(document).__name__}; must be a mapping with a config: key"
        )
    config = document.get("config")
    if config is not None and not isinstance(config, dict):
        raise StackFileError(
            f"{path}: not a stack file: config: got a YAML {type(config).__name__}; must be a mapping of keys"
        )
    return document


def raw_stack_config(path: Path, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The `config:` mapping of a stack file as written (encrypted values still `{secure: ...}`)."""
    return read_stack_document(path, project_dir).get("config") or {}


def read_stack_config(path: Path, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The `registries:*` keys of a stack file, without the namespace (encrypted values as a placeholder)."""
    prefix = f"{PROJECT}:"
    config = raw_stack_config(path, project_dir)
    return {str(k)[len(prefix) :]: _placeholders(v) for k, v in config.items() if str(k).startswith(prefix)}


def stack_name(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")
