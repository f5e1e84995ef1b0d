"""htpasswd lines and docker config.json."""

from __future__ import annotations

import base64
import json

import bcrypt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.selfhosted.credentials import docker_config_json, htpasswd_file, stable_bcrypt_hash


@settings(max_examples=15, deadline=None)
@given(
    password=st.text(min_size=12, max_size=40).filter(lambda p: "\x00" not in p and len(p.encode()) <= 72),
    user=st.from_regex(r"[a-z]{1,10}", fullmatch=True),
)
def test_given_password_hash_is_stable_and_verifies(password, user):
    first = stable_bcrypt_hash(password, salt_context=f"registries/prod/{user}")
    assert first == stable_bcrypt_hash(password, salt_context=f"registries/prod/{user}")
    assert bcrypt.checkpw(password.encode(), first.encode())


def test_password_longer_than_bcrypt_reads_is_refused():
    with pytest.raises(ValueError, match="72 bytes"):
        stable_bcrypt_hash("é" * 40, salt_context="registries/local/admin")


def test_salt_differs_per_user_and_stack():
    a = stable_bcrypt_hash("same-password-123", salt_context="registries/prod/alice")
    b = stable_bcrypt_hash("same-password-123", salt_context="registries/prod/bob")
    c = stable_bcrypt_hash("same-password-123", salt_context="registries/dev/alice")
    assert len({a, b, c}) == 3
    assert a.startswith("$2b$10$")


def test_htpasswd_file_has_one_bcrypt_line_per_user():
    text = htpasswd_file([("alice", "$2a$10$abc"), ("bob", "$2y$10$def")])
    assert text == "alice:$2a$10$abc\nbob:$2y$10$def\n"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "at least one user"),
        ([("a:b", "$2a$10$x")], "no ':'"),
        ([("alice", "{SHA}abc")], "bcrypt only"),
        ([("alice", "$apr1$md5")], "bcrypt only"),
    ],
)
def test_htpasswd_file_fails_closed(entries, message):
    with pytest.raises(ValueError, match=message):
        htpasswd_file(entries)


def test_docker_config_json_logs_into_the_endpoint():
    config = json.loads(docker_config_json("localhost:5000", "admin", "s3cret-pass"))
    assert base64.b64decode(config["auths"]["localhost:5000"]["auth"]).decode() == "admin:s3cret-pass"
