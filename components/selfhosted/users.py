"""htpasswd users: each user's password (given, or generated) and the htpasswd file of their bcrypt hashes."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import pulumi
import pulumi_random as random

from components.selfhosted.credentials import SALT_BYTES, bcrypt_hash_with_salt, htpasswd_file


def declare_users(
    name: str,
    users: Sequence[tuple[str, pulumi.Input[str] | None]],
    password_length: int,
    parent: pulumi.Resource,
) -> tuple[list[pulumi.Output[str]], pulumi.Output[str]]:
    """Each user's password (secret) in `users` order, and the htpasswd file (secret).

    `users` pairs a user name with its given password, or None to generate one. Hashes stay the same
    across runs: RandomPassword keeps its bcrypt_hash in state, and a given password is hashed with a
    random salt kept in state by a RandomBytes whose keeper is the password."""
    passwords: list[pulumi.Output[str]] = []
    hashes: list[pulumi.Output[str]] = []
    for user, password in users:
        if password is not None:
            given = pulumi.Output.secret(password)
            # A new password replaces the salt; the salt never depends on the password (review H1).
            salt = random.RandomBytes(
                f"{name}-salt-{user}",
                length=SALT_BYTES,
                keepers={"password": given},
                opts=pulumi.ResourceOptions(parent=parent),
            )
            passwords.append(given)
            hashes.append(
                pulumi.Output.secret(
                    pulumi.Output.all(given, salt.base64).apply(
                        lambda values: bcrypt_hash_with_salt(values[0], base64.b64decode(values[1]))
                    )
                )
            )
            continue
        generated = random.RandomPassword(
            f"{name}-password-{user}",
            length=password_length,
            special=True,
            override_special="-_.~",
            min_lower=2,
            min_upper=2,
            min_numeric=2,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        passwords.append(pulumi.Output.secret(generated.result))
        hashes.append(pulumi.Output.secret(generated.bcrypt_hash))
    names = [user for user, _ in users]
    htpasswd = pulumi.Output.all(*hashes).apply(lambda hs: htpasswd_file(list(zip(names, hs, strict=True))))
    return passwords, htpasswd
