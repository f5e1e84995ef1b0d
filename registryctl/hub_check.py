"""`registryctl verify` for Docker Hub: each declared repository exists with the settings the stack declares.

Read-only (GET requests only): it reports drift, it never fixes it (`registryctl up` does). It compares what
the stack's config says (description, full description, privacy, immutable tags) with what Hub answers,
the same properties our repository provider manages.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.dockerhub import DockerHub
from providers.dockerhub.client import Credentials, HubClient, HubError, HubNotFound, credentials_from_env
from providers.dockerhub.resources import RepositoryProvider
from registries.config.dockerhub import DockerHubSpec
from registries.mapping.dockerhub import repository_settings
from registryctl.docker_config import DOCKER_HUB_HOST, Credential, store_credential
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
    """namespace/name -> the settings the stack declares, as the repository provider receives them (the mapping
    layer's args turned into provider inputs by the component itself)."""
    declared: dict[str, dict[str, Any]] = {}
    for repo in spec.repositories:
        settings = repository_settings(repo, base_dir)
        props = DockerHub._repository_props(settings, settings.get("namespace", spec.namespace))
        declared[f"{props.pop('namespace')}/{props.pop('name')}"] = props
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


# --- login -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HubLogin:
    """The credential `registryctl login` hands docker for Docker Hub, and why that one."""

    credential: Credential
    why: str


def _usable(active: bool, expires_at: datetime | None, now: datetime) -> bool:
    return active and (expires_at is None or expires_at > now)


def choose_hub_login(
    spec: DockerHubSpec,
    access_tokens: Mapping[str, str],
    org_access_tokens: Mapping[str, str],
    provider_credentials: Callable[[], Credentials],
    requested: str | None = None,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> HubLogin:
    """Which credential docker gets for Docker Hub.

    A token the stack declares comes first: it is scoped (repo:read/write), revocable on its own and made
    for docker clients. The first active, unexpired personal access token (the user who deployed it logs in
    with it), else the first such organization token (the organization logs in). Only when the stack
    declares neither does docker get the provider's own login (DOCKER_USERNAME + token/password, or
    registries:dockerHubSecret), which can manage the whole namespace. `requested` picks a token by label
    (`org/label` for an organization token).
    """
    environ = os.environ if environ is None else environ
    now = now or datetime.now(UTC)
    user = spec.username or environ.get("DOCKER_USERNAME") or ""
    personal = [t for t in spec.access_tokens if t.label in access_tokens]
    org = [t for t in spec.org_access_tokens if f"{t.org}/{t.label}" in org_access_tokens]
    if requested is not None:
        personal = [t for t in personal if t.label == requested]
        org = [t for t in org if f"{t.org}/{t.label}" == requested]
        if not personal and not org:
            labels = [t.label for t in spec.access_tokens] + [f"{t.org}/{t.label}" for t in spec.org_access_tokens]
            raise RegistryCtlError(
                f"Docker Hub: no deployed token {requested!r} in the stack; tokens: {', '.join(labels) or 'none'}"
            )
    for token in personal:
        if not _usable(token.active, token.expires_at, now):
            continue
        if not user:
            raise RegistryCtlError(
                f"Docker Hub: the access token {token.label!r} belongs to the user who deployed it; set "
                "registries:dockerHub.username or DOCKER_USERNAME to that user"
            )
        why = f"the stack's personal access token {token.label!r} ({', '.join(token.scopes)}) of {user}"
        return HubLogin(Credential(user, access_tokens[token.label]), why)
    for org_token in org:
        if _usable(org_token.active, org_token.expires_at, now):
            key = f"{org_token.org}/{org_token.label}"
            why = f"the stack's organization access token {key!r} (as {org_token.org})"
            return HubLogin(Credential(org_token.org, org_access_tokens[key]), why)
    if requested is not None:
        raise RegistryCtlError(f"Docker Hub: the token {requested!r} is inactive or expired (see the stack file)")
    if spec.access_tokens or spec.org_access_tokens:
        raise RegistryCtlError(
            "Docker Hub: every token the stack declares is inactive, expired or not deployed; activate one (active: "
            "true) and run `registryctl up`, or log in with `docker login` yourself"
        )
    credentials = provider_credentials()
    why = (
        f"the provider's own login of {credentials.identifier} (the stack declares no access token; declare one "
        "under registries:dockerHub.accessTokens to give docker a scoped credential instead)"
    )
    return HubLogin(Credential(credentials.identifier, credentials.secret), why)


def check_hub_login(spec: DockerHubSpec, credential: Credential) -> bool:
    """Log in to the Hub API with the credential (read-only); False when there is nothing to read it against."""
    if not spec.repositories:
        return False
    repo = spec.repositories[0]
    namespace = repo.namespace or spec.namespace
    client = HubClient(spec.base_url, Credentials(credential.username, credential.secret))
    try:
        client.request("GET", f"/v2/namespaces/{namespace}/repositories/{repo.name}", f"repository {repo.name}")
    except HubNotFound:
        pass  # the login itself worked
    except HubError as error:
        raise RegistryCtlError(f"Docker Hub refused the chosen credential ({error})") from None
    finally:
        client.close()
    return True


def hub_login(spec: DockerHubSpec, choice: HubLogin, docker_dir: Path) -> str:
    """Check the chosen credential against Hub, then store it for docker; returns the line to print."""
    checked = check_hub_login(spec, choice.credential)
    where = store_credential(docker_dir, DOCKER_HUB_HOST, choice.credential)
    note = "" if checked else " (not checked: the stack declares no repository to read)"
    return f"Docker Hub: logged in as {choice.credential.username} with {choice.why}; stored in {where}{note}"
