"""htpasswd users: each user's password (given, or generated) and the htpasswd file of their bcrypt hashes."""

from __future__ import annotations

import base64
import string
from collections.abc import Sequence

import pulumi
import pulumi_random as random

from components.selfhosted.credentials import (
    GENERATED_PASSWORD_COST,
    GIVEN_PASSWORD_COST,
    MAX_PASSWORD_BYTES,
    MIN_GENERATED_LENGTH,
    MIN_GIVEN_LENGTH,
    SALT_BYTES,
    bcrypt_hash_with_salt,
    htpasswd_file,
)

GENERATED_SPECIAL = "-_.~"
"""Special characters of generated passwords: safe unquoted in URLs, shells and YAML."""
GENERATED_ALPHABET = string.ascii_letters + string.digits + GENERATED_SPECIAL
"""The 66 characters a generated password is drawn from."""


def checked_given_password(index: int, password: str) -> str:
    """`password` if bcrypt can use it whole and it is long enough; the error names users[index] only."""
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ValueError(
            f"users[{index}].password: {len(password.encode())} bytes; bcrypt reads at most {MAX_PASSWORD_BYTES}"
        )
    if len(password) < MIN_GIVEN_LENGTH:
        raise ValueError(
            f"users[{index}].password: {len(password)} characters; a given password needs at least {MIN_GIVEN_LENGTH}"
        )
    return password


def _hashed_with_salt_in_state(
    name: str, user: str, password: pulumi.Output[str], cost: int, parent: pulumi.Resource
) -> pulumi.Output[str]:
    """bcrypt hash of `password` at `cost`, with a random salt kept in state until the password changes."""
    # A new password replaces the salt; the salt never depends on the password (review H1).
    salt = random.RandomBytes(
        f"{name}-salt-{user}",
        length=SALT_BYTES,
        keepers={"password": password},
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.secret(
        pulumi.Output.all(password, salt.base64).apply(
            lambda values: bcrypt_hash_with_salt(values[0], base64.b64decode(values[1]), cost=cost)
        )
    )


def declare_users(
    name: str,
    users: Sequence[tuple[str, pulumi.Input[str] | None]],
    password_length: int,
    parent: pulumi.Resource,
) -> tuple[list[pulumi.Output[str]], pulumi.Output[str]]:
    """Each user's password (secret) in `users` order, and the htpasswd file (secret).

    `users` pairs a user name with its given password, or None to generate one of `password_length`
    characters. The bcrypt cost follows the password's entropy: a given password is hashed at
    GIVEN_PASSWORD_COST, a generated one (>= 96 bits) at GENERATED_PASSWORD_COST, since the registry
    checks it on every request. Hashes stay the same across runs: each is made with a random salt kept
    in state by a RandomBytes whose keeper is the password."""
    if password_length < MIN_GENERATED_LENGTH:
        raise ValueError(
            f"passwordLength: {password_length} is too short; generated passwords need at least "
            f"{MIN_GENERATED_LENGTH} characters (>= 96 bits) to be hashed at bcrypt cost {GENERATED_PASSWORD_COST}"
        )
    passwords: list[pulumi.Output[str]] = []
    hashes: list[pulumi.Output[str]] = []
    for index, (user, password) in enumerate(users):
        if password is not None:
            # Checked once it resolves (it may come from another resource); the run fails naming the arg.
            given = pulumi.Output.secret(
                pulumi.Output.from_input(password).apply(lambda value, i=index: checked_given_password(i, value))
            )
            passwords.append(given)
            hashes.append(_hashed_with_salt_in_state(name, user, given, GIVEN_PASSWORD_COST, parent))
            continue
        generated = random.RandomPassword(
            f"{name}-password-{user}",
            length=password_length,
            special=True,
            override_special=GENERATED_SPECIAL,
            min_lower=2,
            min_upper=2,
            min_numeric=2,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        result = pulumi.Output.secret(generated.result)
        passwords.append(result)
        # Not generated.bcrypt_hash: pulumi-random hashes at cost 10, ~50 ms of registry CPU per request.
        hashes.append(_hashed_with_salt_in_state(name, user, result, GENERATED_PASSWORD_COST, parent))
    names = [user for user, _ in users]
    htpasswd = pulumi.Output.all(*hashes).apply(lambda hs: htpasswd_file(list(zip(names, hs, strict=True))))
    return passwords, htpasswd
