"""htpasswd and docker config.json contents (pure, no Pulumi)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import bcrypt

GIVEN_PASSWORD_COST = 10
"""bcrypt cost of a password a person chose: its entropy is unknown, so the work factor is what slows
offline guessing of it (OWASP's minimum for bcrypt)."""
GENERATED_PASSWORD_COST = 4
"""bcrypt cost of a generated password (bcrypt's lowest). It is at least MIN_GENERATED_LENGTH characters
drawn uniformly from 66, so >= 96 bits: guessing it offline is infeasible whatever the cost (2**95 tries
on average), and the registry checks it on every request (a cost-10 check is ~50 ms of CPU, cost 4 ~1 ms)."""
MIN_GENERATED_LENGTH = 16
"""Shortest generated password hashed at GENERATED_PASSWORD_COST: 16 * log2(66) = 96.7 bits."""
MAX_PASSWORD_BYTES = 72
"""bcrypt reads only the first 72 bytes of a password: a longer one would be silently cut."""
MIN_GIVEN_LENGTH = 12
"""Shortest password a person may give (the stack config's minimum, checked for library users too)."""
SALT_BYTES = 16
"""bcrypt salts are 128 bits."""
_STANDARD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT_B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_BCRYPT_B64 = str.maketrans(_STANDARD_B64, _BCRYPT_B64)


def bcrypt_salt(salt: bytes) -> str:
    """The 22 salt characters bcrypt stores for 16 salt bytes (its own base64 alphabet, no padding)."""
    if len(salt) != SALT_BYTES:
        raise ValueError(f"a bcrypt salt is {SALT_BYTES} bytes, got {len(salt)}")
    return base64.b64encode(salt).decode().rstrip("=").translate(_TO_BCRYPT_B64)


def bcrypt_hash_with_salt(password: str, salt: bytes, cost: int = GIVEN_PASSWORD_COST) -> str:
    """bcrypt hash of a password with a salt the caller keeps (a RandomBytes in state).

    `cost` stays GIVEN_PASSWORD_COST for a password a person supplied; only a generated one gets
    GENERATED_PASSWORD_COST (its entropy, not the work factor, is what makes guessing infeasible).

    A fresh salt on every run would change the htpasswd file, and so restart the registry, on every
    `pulumi up`; a salt derived from the password would let anyone holding the file test guesses
    without paying for bcrypt. The salt is random and independent of the password, and stays the same
    until the password changes (the RandomBytes resource has the password as its keeper).
    """
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ValueError("bcrypt reads at most 72 bytes of a password; use a shorter one")
    if not 4 <= cost <= 31:
        raise ValueError(f"bcrypt cost {cost} is outside 4..31")
    return bcrypt.hashpw(password.encode(), f"$2b${cost:02d}${bcrypt_salt(salt)}".encode()).decode()


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
