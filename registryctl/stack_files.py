"""Read stack files without the Pulumi CLI (for `registryctl validate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from registries.spec import PROJECT

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Stands in for an encrypted value; shaped to pass the checks of any secret key (a URL of 12-72 bytes).
SECRET_PLACEHOLDER = "https://encrypted-secret.invalid/"  # noqa: S105 - not a credential


def _placeholders(value: Any) -> Any:
    """Encrypted values (`{secure: v1:...}`) cannot be read without the CLI: stand in a placeholder."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER
        return {k: _placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    return value


def stack_file(stack: str) -> Path:
    return PROJECT_DIR / "stacks" / f"Pulumi.{stack}.yaml"


def read_stack_config(path: Path) -> dict[str, Any]:
    """The `registries:*` keys of a stack file, without the namespace."""
    document = yaml.safe_load(path.read_text()) or {}
    config = document.get("config") or {}
    prefix = f"{PROJECT}:"
    return {k[len(prefix) :]: _placeholders(v) for k, v in config.items() if k.startswith(prefix)}


def stack_name(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")
