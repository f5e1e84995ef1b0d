"""`registryctl verify` for Docker Hub: each declared repository exists with the settings the stack declares.

Read-only (GET requests only): it reports drift, it never fixes it (`registryctl up` does). It compares what
the stack's config says (description, full description, privacy, immutable tags) with what Hub answers,
the same properties our repository provider manages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from providers.dockerhub.client import Credentials, HubClient, HubError, HubNotFound, credentials_from_env
from providers.dockerhub.resources import RepositoryProvider
from registries.spec.dockerhub import DockerHubSpec
from registryctl.registry_client import RegistryCtlError


@dataclass(frozen=True)
class Drift:
    repository: str
    key: str
    declared: Any
    on_hub: Any

    def __str__(self) -> str:
        if self.key == "exists":
            return f"{self.repository}: declared in the stack but not on Docker Hub"
        return f"{self.repository}: {self.key} is {self.on_hub!r} on Docker Hub, the stack declares {self.declared!r}"


def declared_repositories(spec: DockerHubSpec, base_dir: Path) -> dict[str, dict[str, Any]]:
    """namespace/name -> the settings the stack declares, as the repository provider sends them."""
    declared: dict[str, dict[str, Any]] = {}
    for repo in spec.repositories:
        full = repo.full_description
        if repo.full_description_file is not None:
            full = (base_dir / repo.full_description_file).read_text(encoding="utf-8")
        declared[f"{repo.namespace or spec.namespace}/{repo.name}"] = {
            "description": repo.description,
            "fullDescription": full or "",
            "private": repo.private,
            "immutableTags": {"enabled": repo.immutable_tags.enabled, "rules": list(repo.immutable_tags.rules)},
        }
    return declared


def hub_settings(info: dict[str, Any]) -> dict[str, Any]:
    """The same settings from Hub's repository object."""
    immutable = info.get("immutable_tags_settings") or {}
    return {
        "description": info.get("description") or "",
        "fullDescription": info.get("full_description") or "",
        "private": bool(info.get("is_private")),
        "immutableTags": {"enabled": bool(immutable.get("enabled")), "rules": list(immutable.get("rules") or [])},
    }


def repository_drift(spec: DockerHubSpec, client: HubClient, base_dir: Path) -> list[Drift]:
    """Every difference between the declared repositories and Hub (empty when they match)."""
    drift: list[Drift] = []
    for full_name, declared in declared_repositories(spec, base_dir).items():
        namespace, name = full_name.split("/", 1)
        try:
            info = client.request("GET", f"/v2/namespaces/{namespace}/repositories/{name}", f"repository {full_name}")
        except HubNotFound:
            drift.append(Drift(full_name, "exists", True, False))
            continue
        actual = hub_settings(info)
        # Compared as the repository provider compares them, so verify and `up` agree on what is drift.
        same = RepositoryProvider.normalisers
        drift.extend(
            Drift(full_name, key, value, actual[key])
            for key, value in declared.items()
            if same[key](actual[key]) != same[key](value)
        )
    return drift


def hub_credentials(spec: DockerHubSpec, stack_secret: Callable[[], str | None]) -> Credentials:
    """DOCKER_USERNAME with DOCKER_HUB_TOKEN/DOCKER_PASSWORD, else the stack's registries:dockerHubSecret."""
    try:
        return credentials_from_env()
    except HubError:
        pass
    secret = stack_secret()
    if secret and (spec.username or spec.namespace):
        return Credentials(spec.username or spec.namespace, secret)
    raise RegistryCtlError(
        "Docker Hub credentials are missing: set DOCKER_USERNAME and DOCKER_HUB_TOKEN (or DOCKER_PASSWORD), "
        "or the secret config registries:dockerHubSecret with registries:dockerHub.username"
    )


def verify_docker_hub(spec: DockerHubSpec, credentials: Credentials, base_dir: Path) -> list[str]:
    """The declared repositories' names when Hub matches the stack; otherwise an error listing each drift."""
    client = HubClient(spec.base_url, credentials)
    try:
        drift = repository_drift(spec, client, base_dir)
    except HubError as error:
        raise RegistryCtlError(f"Docker Hub: {error}") from None
    finally:
        client.close()
    if drift:
        lines = "\n  ".join(str(d) for d in drift)
        raise RegistryCtlError(
            f"Docker Hub does not match the stack ({len(drift)} difference(s)); `registryctl up` applies the "
            f"stack:\n  {lines}"
        )
    return list(declared_repositories(spec, base_dir))
