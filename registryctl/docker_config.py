"""The docker client's config.json: how `registryctl login` tells docker where a registry's credentials are.

Docker looks a registry host up in `credHelpers` first (a `docker-credential-<helper>` executable), then in
`credsStore` (one helper for every other host), then in `auths` (base64 `user:secret`). A login here changes
only the entry of its own host, keeps every other key and host as it was, writes the file 0600 through a
temporary file (a crash leaves the old file), and never prints or logs a secret.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registryctl.registry_client import RegistryCtlError

DOCKER_HUB_HOST = "https://index.docker.io/v1/"
"""The key docker itself uses for Docker Hub in config.json."""


@dataclass(frozen=True)
class Credential:
    username: str
    secret: str = field(repr=False)


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$DOCKER_CONFIG, else ~/.docker (docker's own rule)."""
    environ = os.environ if environ is None else environ
    configured = environ.get("DOCKER_CONFIG")
    return Path(configured) if configured else Path(environ.get("HOME") or Path.home()) / ".docker"


def read_config(directory: Path) -> dict[str, Any]:
    """config.json as a dict ({} when absent); an unreadable file is an error naming it, never its content."""
    path = directory / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise RegistryCtlError(f"cannot read the docker config {path}: {error.strerror}") from None
    try:
        document = json.loads(text) if text.strip() else {}
    except ValueError:
        raise RegistryCtlError(
            f"the docker config {path} is not valid JSON; fix or move it, registryctl does not overwrite it"
        ) from None
    if not isinstance(document, dict):
        raise RegistryCtlError(f"the docker config {path} is not a JSON object; fix or move it")
    return document


def _write_config(directory: Path, document: dict[str, Any]) -> Path:
    """Replace config.json atomically with a 0600 file (the old file stays if anything fails)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = (directory / "config.json").resolve()  # a symlinked config is updated where it points
    descriptor, temporary = tempfile.mkstemp(prefix=".config.json.", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent="\t")
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _section(document: dict[str, Any], key: str) -> dict[str, Any]:
    section = document.get(key)
    if section is None:
        section = document[key] = {}
    if not isinstance(section, dict):
        raise RegistryCtlError(f"the docker config's {key!r} is not a JSON object; fix or move the file")
    return section


def use_credential_helper(directory: Path, hosts: list[str], helper: str) -> Path:
    """credHelpers[host] = helper for each host; a stored token of those hosts is dropped (docker would
    ignore it behind the helper, and it should not linger in the file)."""
    document = read_config(directory)
    helpers = _section(document, "credHelpers")
    auths = document.get("auths")
    auths = auths if isinstance(auths, dict) else {}
    for host in hosts:
        helpers[host] = helper
        auths.pop(host, None)
    return _write_config(directory, document)


StoreRunner = Callable[[str, str], None]
"""(helper name, the JSON docker sends on stdin) -> None; runs `docker-credential-<helper> store`."""


def run_credential_store(helper: str, payload: str) -> None:
    """Hand a credential to docker's credential store the way docker does: JSON on stdin, never argv."""
    program = f"docker-credential-{helper}"
    try:
        result = subprocess.run(
            [program, "store"], input=payload, capture_output=True, text=True, check=False, timeout=60
        )
    except FileNotFoundError:
        raise RegistryCtlError(
            f"the docker config names credsStore {helper!r}, but {program} is not on PATH; install it or remove "
            "credsStore from the docker config"
        ) from None
    if result.returncode != 0:
        # The helper's own message, never the payload.
        raise RegistryCtlError(f"{program} store failed: {result.stderr.strip() or result.stdout.strip()}")


def store_credential(
    directory: Path, host: str, credential: Credential, run_store: StoreRunner = run_credential_store
) -> str:
    """Store a user/secret login for `host` where docker will read it; returns where ("credsStore X" or
    the file). A credHelpers entry of the same host is removed: it would win over the stored login."""
    document = read_config(directory)
    helpers = document.get("credHelpers")
    if isinstance(helpers, dict):
        helpers.pop(host, None)
    auths = _section(document, "auths")
    store = document.get("credsStore")
    if isinstance(store, str) and store:
        payload = json.dumps({"ServerURL": host, "Username": credential.username, "Secret": credential.secret})
        run_store(store, payload)
        auths[host] = {}  # what docker writes for a host whose secret is in the store
        _write_config(directory, document)
        return f"docker's credential store {store!r}"
    token = base64.b64encode(f"{credential.username}:{credential.secret}".encode()).decode()
    auths[host] = {"auth": token}
    return str(_write_config(directory, document))


def merge_config(directory: Path, fragment: Mapping[str, Any], run_store: StoreRunner = run_credential_store) -> str:
    """Merge a docker config fragment (e.g. a stack's dockerConfigJson output) host by host."""
    where = str(directory / "config.json")
    helpers = fragment.get("credHelpers") or {}
    for helper in sorted(set(helpers.values())):
        where = str(use_credential_helper(directory, [h for h, v in helpers.items() if v == helper], helper))
    for host, entry in (fragment.get("auths") or {}).items():
        where = store_credential(directory, host, credential_of(entry, host), run_store)
    return where


def credential_of(entry: Mapping[str, Any], host: str) -> Credential:
    """The user/secret of an `auths` entry (`auth` = base64 user:secret, or username + password)."""
    if entry.get("auth"):
        try:
            username, _, secret = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except ValueError:
            raise RegistryCtlError(f"the auth of {host} in the stack's dockerConfigJson is not base64") from None
        return Credential(username, secret)
    if entry.get("username") and entry.get("password"):
        return Credential(str(entry["username"]), str(entry["password"]))
    raise RegistryCtlError(f"the stack's dockerConfigJson has no credential for {host} (no auth, no username/password)")
