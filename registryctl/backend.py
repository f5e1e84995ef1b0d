"""Where Pulumi state lives and how secrets are unlocked when the user chose neither.

The Pulumi CLI picks its backend from PULUMI_BACKEND_URL, else `backend.url` in Pulumi.yaml, else the
current account in credentials.json ($PULUMI_CREDENTIALS_PATH, $PULUMI_HOME or ~/.pulumi), else it asks
for a Pulumi Cloud login (non-interactively: it needs PULUMI_ACCESS_TOKEN). registryctl keeps every
choice the user made, and otherwise uses a file backend in a per-user state directory. Self-managed
backends encrypt secrets with a passphrase: the user's (PULUMI_CONFIG_PASSPHRASE[_FILE]) or one
generated once into a 0600 file in a 0700 directory apart from that state ($XDG_CONFIG_HOME/registries,
so a copy of the state does not carry its key). The passphrase itself never goes into an environment
variable, a command line or the output: the CLI reads it from the file.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from registryctl.registry_client import RegistryCtlError

PULUMI_CLOUD = "https://api.pulumi.com"
SELF_MANAGED_SCHEMES = ("file://", "s3://", "azblob://", "gs://")
BACKEND_SCHEMES = (*SELF_MANAGED_SCHEMES, "https://")
PASSPHRASE_FILE_NAME = "passphrase"  # noqa: S105 - a file name, not a secret


class BackendConfigError(RegistryCtlError):
    """A backend the user named cannot be used; nothing ran."""


@dataclass(frozen=True)
class Backend:
    """What the Pulumi CLI's environment needs so that it asks nothing."""

    url: str
    """The backend the CLI will use ("" when it is the CLI's own Pulumi Cloud login with a token)."""
    source: str
    """Where the choice came from: --backend, PULUMI_BACKEND_URL, Pulumi.yaml, pulumi login,
    PULUMI_ACCESS_TOKEN, or default."""
    env: dict[str, str] = field(default_factory=dict)
    """Variables to add to the CLI's environment (never a secret value; at most a file's path)."""
    note: str = ""
    """One line for stderr when registryctl chose for the user."""


def state_dir(environ: Mapping[str, str]) -> Path:
    """The per-user state directory: $XDG_STATE_HOME/registries, else ~/.local/state/registries."""
    xdg = environ.get("XDG_STATE_HOME", "")
    # The XDG spec says relative values are invalid and must be ignored.
    base = (
        Path(xdg) if xdg and Path(xdg).is_absolute() else Path(environ.get("HOME") or Path.home()) / ".local" / "state"
    )
    return base / "registries"


def secrets_dir(environ: Mapping[str, str]) -> Path:
    """Where the generated passphrase lives: $XDG_CONFIG_HOME/registries, else ~/.config/registries; never the
    state directory, so a copy of the state (a backup, a shared bucket sync) does not carry its key."""
    xdg = environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path(environ.get("HOME") or Path.home()) / ".config"
    return base / "registries"


def private_dir(directory: Path) -> Path:
    """`directory`, created 0700, or tightened to 0700 when it exists with access for others (ours only)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        if info.st_uid != os.getuid():
            raise BackendConfigError(
                f"{directory} (mode {mode:o}) can be read by other users and belongs to another user; "
                "registryctl keeps state and its passphrase only in a directory of yours with mode 700"
            )
        directory.chmod(0o700)
    return directory


def _credentials_path(environ: Mapping[str, str]) -> Path:
    folder = environ.get("PULUMI_CREDENTIALS_PATH") or environ.get("PULUMI_HOME")
    home = Path(environ.get("HOME") or Path.home())
    return Path(folder) / "credentials.json" if folder else home / ".pulumi" / "credentials.json"


def logged_in_url(environ: Mapping[str, str]) -> str:
    """The backend of the current `pulumi login`, or "" when the user never logged in (or logged out)."""
    path = _credentials_path(environ)
    try:
        credentials = json.loads(path.read_text())
    except FileNotFoundError:
        return ""
    except (OSError, ValueError) as error:
        raise BackendConfigError(f"cannot read the Pulumi credentials file {path}: {error}") from error
    return str(credentials.get("current") or "") if isinstance(credentials, dict) else ""


def project_backend_url(project_dir: Path) -> str:
    """`backend.url` of the project's Pulumi.yaml, or ""."""
    path = project_dir / "Pulumi.yaml"
    document = yaml.safe_load(path.read_text()) if path.exists() else None
    backend = document.get("backend") if isinstance(document, dict) else None
    return str(backend.get("url") or "") if isinstance(backend, dict) else ""


def check_backend_url(url: str) -> str:
    """`--backend URL` as given, or an error naming the value and what is allowed."""
    if not url.startswith(BACKEND_SCHEMES) or url in BACKEND_SCHEMES:
        allowed = ", ".join(f"{scheme}..." for scheme in BACKEND_SCHEMES)
        raise BackendConfigError(
            f"--backend: {url!r} is not a Pulumi backend URL; allowed: {allowed} "
            f"(e.g. s3://bucket, azblob://container, gs://bucket, {PULUMI_CLOUD}, file:///path)"
        )
    if url.startswith("file://") and not Path(url.removeprefix("file://")).is_dir():
        raise BackendConfigError(f"--backend: {url!r}: no such directory; create it first")
    return url


def _refuse_readable(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise BackendConfigError(
            f"the secrets passphrase file {path} can be read by other users (mode {mode:o}); "
            f"run `chmod 600 {path}` and check who may have read it"
        )


def migrate_passphrase(old: Path, new: Path) -> str:
    """Move a passphrase generated into the state directory (before 2026-12) to `new`, never losing it: the copy
    is written (0600, fsync) and read back before the old file is removed. Returns a note, or "" when nothing
    moved. Two different passphrases: refused, naming both files."""
    if not old.exists():
        return ""
    _refuse_readable(old)
    if new.exists():
        if new.read_bytes() != old.read_bytes():
            raise BackendConfigError(
                f"two different generated passphrases: {old} (the old place) and {new}; keep the one your stacks' "
                "secrets were encrypted with in " + str(new) + " and delete the other"
            )
        old.unlink()
        return ""
    secret = old.read_bytes()
    descriptor = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(secret)
        stream.flush()
        os.fsync(stream.fileno())
    if new.read_bytes() != secret:
        raise BackendConfigError(f"moving the passphrase: {new} does not read back as {old}; {old} is kept")
    old.unlink()
    return f"registryctl: moved the generated secrets passphrase from {old} to {new} (outside the state it encrypts)"


def ensure_passphrase_file(directory: Path) -> Path:
    """The generated passphrase's file (created once, 0600, in a 0700 directory); refused if others can read it."""
    private_dir(directory)
    path = directory / PASSPHRASE_FILE_NAME
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _refuse_readable(path)
        return path
    with os.fdopen(descriptor, "w") as stream:
        stream.write(secrets.token_urlsafe(32))
    return path


def _stack_settings(stack_file: Path | None) -> dict[str, Any]:
    """The top-level settings of the stack file (`secretsprovider`, `encryptionsalt`, ...), or {}."""
    if stack_file is None or not stack_file.exists():
        return {}
    from registryctl.stack_files import read_stack_document

    return read_stack_document(stack_file)


def _secrets_env(url: str, environ: Mapping[str, str], stack_file: Path | None) -> dict[str, str]:
    """PULUMI_CONFIG_PASSPHRASE_FILE for a passphrase-encrypted stack when the user set no passphrase."""
    settings = _stack_settings(stack_file)
    provider = str(settings.get("secretsprovider") or "")
    if provider and provider != "passphrase":
        return {}  # the stack file names its own secrets provider (a KMS key, Pulumi Cloud)
    if not provider and not url.startswith(SELF_MANAGED_SCHEMES):
        return {}  # Pulumi Cloud encrypts secrets itself
    if "PULUMI_CONFIG_PASSPHRASE" in environ or environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        return {}  # the user's passphrase reaches the CLI through the inherited environment
    generated = private_dir(secrets_dir(environ)) / PASSPHRASE_FILE_NAME
    if note := migrate_passphrase(state_dir(environ) / PASSPHRASE_FILE_NAME, generated):
        print(note, file=sys.stderr)
    if not generated.exists() and settings.get("encryptionsalt"):
        # A new passphrase cannot open secrets encrypted with the one that made this salt.
        raise BackendConfigError(
            f"{stack_file} has an encryptionsalt, made with a passphrase registryctl does not have ({generated} "
            "does not exist); set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE to that passphrase, "
            "or, if the stack has no secrets set yet, delete its encryptionsalt line"
        )
    return {"PULUMI_CONFIG_PASSPHRASE_FILE": str(ensure_passphrase_file(secrets_dir(environ)))}


def choose_backend(
    explicit: str | None,
    project_dir: Path,
    stack_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Backend:
    """The backend and secrets environment for one stack, following the CLI's own order of precedence."""
    environ = os.environ if environ is None else environ
    env: dict[str, str] = {}
    note = ""
    if explicit:
        url, source = check_backend_url(explicit), "--backend"
        env["PULUMI_BACKEND_URL"] = url
    elif environ.get("PULUMI_BACKEND_URL"):
        url, source = environ["PULUMI_BACKEND_URL"], "PULUMI_BACKEND_URL"
    elif configured := project_backend_url(project_dir):
        url, source = configured, "Pulumi.yaml"
    elif logged_in := logged_in_url(environ):
        url, source = logged_in, "pulumi login"
    elif environ.get("PULUMI_ACCESS_TOKEN"):
        url, source = "", "PULUMI_ACCESS_TOKEN"
    else:
        directory = private_dir(state_dir(environ))  # a file backend's directory must exist
        url, source = f"file://{directory}", "default"
        env["PULUMI_BACKEND_URL"] = url
        note = (
            f"registryctl: no Pulumi backend chosen (PULUMI_BACKEND_URL, `pulumi login` or --backend), so stack "
            f"state is kept in {directory}, with a generated secrets passphrase in {secrets_dir(environ)} when one "
            "is needed (back both up, apart)"
        )
    env.update(_secrets_env(url, environ, stack_file))
    return Backend(url=url, source=source, env=env, note=note)
