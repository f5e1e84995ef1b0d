"""htpasswd and docker config.json contents (pure, no Pulumi)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence

import bcrypt

BCRYPT_COST = 10
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def stable_bcrypt_hash(password: str, *, salt_context: str) -> str:
    """bcrypt hash of a user-supplied password whose salt is derived from the password and its context.

    A fresh random salt would change the htpasswd file, and so restart the registry, on every
    `pulumi up`. The salt is an HMAC of the context (project, stack, user) keyed by the password,
    so it is unique per user and stack, and never reveals the password.
    """
    if len(password.encode()) > 72:
        raise ValueError("bcrypt reads at most 72 bytes of a password; use a shorter one")
    digest = hmac.new(password.encode(), salt_context.encode(), hashlib.sha256).digest()
    # bcrypt salts are 22 characters of its own base64 alphabet; the last one carries 4 bits.
    chars = "".join(_BCRYPT_ALPHABET[b % 64] for b in digest[:21]) + _BCRYPT_ALPHABET[(digest[21] % 4) * 16]
    salt = f"$2b${BCRYPT_COST:02d}${chars}".encode()
    return bcrypt.hashpw(password.encode(), salt).decode()


def htpasswd_file(entries: Sequence[tuple[str, str]]) -> str:
    """An htpasswd file from (user, bcrypt hash) pairs.

    Refuses anything but bcrypt: the registry silently ignores other hashes."""
    if not entries:
        raise ValueError("htpasswd needs at least one user: without the file the registry invents a 'docker' user")
    lines = []
    for user, hashed in entries:
        if ":" in user or not user:
            raise ValueError(f"htpasswd user name {user!r} must be non-empty and contain no ':'")
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise ValueError(f"the hash of user {user!r} is not bcrypt; the registry accepts bcrypt only")
        lines.append(f"{user}:{hashed}")
    return "\n".join(lines) + "\n"


def docker_config_json(endpoint: str, username: str, password: str) -> str:
    """A ~/.docker/config.json that logs into `endpoint` (host:port) as `username`."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {endpoint: {"auth": auth}}}, sort_keys=True)
