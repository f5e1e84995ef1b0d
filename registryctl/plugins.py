"""The Pulumi resource plugins a stack needs, at the versions of the installed provider SDKs.

Each provider SDK (pulumi-docker, pulumi-tls, ...) drives the resource plugin of the same version, so the
versions come from the installed packages (what requirements.txt allowed pip to install). Docker Hub
resources are our own dynamic providers, served by the CLI's bundled Python dynamic-provider host.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from registries.config import StackSpec
from registryctl.registry_client import RegistryCtlError


@dataclass(frozen=True)
class Plugin:
    name: str
    version: str
    package: str
    needed_for: str


def cli_stderr(error: Exception) -> str:
    """The Pulumi CLI's own complaint inside an Automation API CommandError (its stderr), or ""."""
    return str(error).rsplit("stderr:", 1)[-1].strip()


def sdk_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        raise RegistryCtlError(
            f"the Python package {package} is not installed in this environment; "
            "run `pip install -r requirements.txt` (in the virtualenv registryctl runs from)"
        ) from None


def required_plugins(spec: StackSpec) -> list[Plugin]:
    """Exactly the resource plugins the program declares resources of for this stack's config."""
    needs: list[tuple[str, str, str]] = []
    if spec.self_hosted is not None:
        if spec.self_hosted.platform == "kubernetes":
            needs.append(("kubernetes", "pulumi-kubernetes", "registries:selfHosted.platform: kubernetes"))
        else:
            needs.append(("docker", "pulumi-docker", "registries:selfHosted (network, volume, container)"))
        if spec.self_hosted.tls.mode == "selfSigned":
            needs.append(("tls", "pulumi-tls", "registries:selfHosted.tls.mode: selfSigned"))
        needs.append(("random", "pulumi-random", "registries:selfHosted (passwords, http.secret)"))
        storage = spec.self_hosted.storage
        if storage.kind == "s3" and getattr(storage, "create", False):
            needs.append(("aws", "pulumi-aws", "registries:selfHosted.storage (kind: s3, create: true)"))
    if spec.ecr is not None and not any(name == "aws" for name, _, _ in needs):
        needs.append(("aws", "pulumi-aws", "registries:ecr (repositories and their policies)"))
    if spec.artifact_registry is not None:
        needs.append(("gcp", "pulumi-gcp", "registries:artifactRegistry (repositories, IAM, Pub/Sub)"))
    if spec.acr is not None:
        needs.append(("azure-native", "pulumi-azure-native", "registries:acr (registry, tokens, webhooks, tasks)"))
    return [Plugin(name, sdk_version(package), package, reason) for name, package, reason in needs]


def ambient_plugin(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The executable `pulumi-resource-NAME` on PATH that the CLI will run instead of an installed plugin, or None.

    The CLI's plugin lookup (sdk/go/common/workspace/plugins.go, getPluginInfoAndPath) takes a plugin found on
    $PATH, whatever its version, before the plugin cache, unless PULUMI_IGNORE_AMBIENT_PLUGINS is true
    (`1` or `true`, any case; the CLI's env.Bool).
    """
    environ = os.environ if environ is None else environ
    if environ.get("PULUMI_IGNORE_AMBIENT_PLUGINS", "").lower() in ("1", "true"):
        return None
    return shutil.which(f"pulumi-resource-{name}", path=environ.get("PATH", os.defpath))


def install_plugins(workspace: Any, plugins: list[Plugin]) -> None:
    """`pulumi plugin install resource NAME VERSION` for each (a no-op when already installed), except those
    the CLI finds on PATH (ambient plugins), which it runs instead and which need no download."""
    from pulumi.automation.errors import CommandError

    environ = {**os.environ, **(getattr(workspace, "env_vars", None) or {})}
    for plugin in plugins:
        if ambient_plugin(plugin.name, environ) is not None:
            continue
        try:
            workspace.install_plugin(plugin.name, plugin.version)
        except CommandError as error:
            reason = cli_stderr(error) or "no message"
            raise RegistryCtlError(
                f"could not install the Pulumi resource plugin {plugin.name} {plugin.version} "
                f"(needed by {plugin.needed_for}; version of the installed {plugin.package}): {reason}. "
                f"Connect to the internet and rerun, or install it where you can and copy ~/.pulumi/plugins/"
                f"resource-{plugin.name}-v{plugin.version} here: "
                f"`pulumi plugin install resource {plugin.name} {plugin.version}`"
            ) from None
