"""Which optional dependency set (pip extra) a stack needs, checked before anything runs.

requirements.txt (and `pip install -e .`) installs what a `local` stack needs: the Pulumi SDK with the Docker,
TLS, random and AWS providers (ECR, S3 storage), the Docker SDK and boto3. The other clouds come as extras."""

from __future__ import annotations

import importlib.util
from typing import Any

from registryctl.errors import MissingExtra

EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "gcp": ("pulumi_gcp",),
    "azure": ("pulumi_azure_native",),
    "k8s": ("pulumi_kubernetes",),
}
"""The top-level modules each extra installs (pyproject.toml [project.optional-dependencies])."""


def needed_extras(spec: Any) -> list[str]:
    """The extras the program needs to declare `spec` (a StackSpec), in EXTRA_MODULES order."""
    needed = {
        "gcp": spec.artifact_registry is not None,
        "azure": spec.acr is not None,
        "k8s": spec.self_hosted is not None and spec.self_hosted.platform == "kubernetes",
    }
    return [extra for extra in EXTRA_MODULES if needed[extra]]


def missing_extras(spec: Any) -> list[str]:
    """The needed extras with a module that is not installed (found without importing it)."""
    return [
        extra
        for extra in needed_extras(spec)
        if any(importlib.util.find_spec(module) is None for module in EXTRA_MODULES[extra])
    ]


def require_extras(spec: Any, stack: str) -> None:
    """MissingExtra naming the pip command, when the stack needs an extra that is not installed."""
    if missing := missing_extras(spec):
        names = ",".join(missing)
        modules = ", ".join(module for extra in missing for module in EXTRA_MODULES[extra])
        raise MissingExtra(
            f"stack {stack} needs the {names} extra ({modules} not installed); "
            f"run `pip install -e '.[{names}]'` in this checkout (or '.[all]'), then rerun"
        )
