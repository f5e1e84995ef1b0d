"""htpasswd lines and docker config.json."""

from __future__ import annotations

import base64
import json

import bcrypt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.selfhosted.credentials import bcrypt_hash_with_salt, bcrypt_salt, docker_config_json, htpasswd_file


@settings(max_examples=15, deadline=None)
@given(
    password=st.text(min_size=12, max_size=40).filter(lambda p: "\x00" not in p and len(p.encode()) <= 72),
    salt=st.binary(min_size=16, max_size=16),
)
def test_given_password_hash_carries_the_given_salt_and_verifies(password, salt):
    hashed = bcrypt_hash_with_salt(password, salt)
    assert hashed == bcrypt_hash_with_salt(password, salt)  # same salt in state -> same line, no restart
    assert hashed.startswith(f"$2b$10${bcrypt_salt(salt)}")
    assert bcrypt.checkpw(password.encode(), hashed.encode())


def test_salt_encoding_is_bcrypts_own_base64():
    # bcrypt's alphabet starts "./A": 16 zero bytes are 22 '.', 16 0xff bytes end in the 2 bits left.
    assert bcrypt_salt(bytes(16)) == "." * 22
    assert bcrypt_salt(b"\xff" * 16) == "9" * 21 + "u"
    with pytest.raises(ValueError, match="16 bytes"):
        bcrypt_salt(b"short")


def test_password_longer_than_bcrypt_reads_is_refused():
    with pytest.raises(ValueError, match="72 bytes"):
        bcrypt_hash_with_salt("é" * 40, bytes(16))


def test_different_salts_give_different_hashes_for_one_password():
    first = bcrypt_hash_with_salt("same-password-123", bytes(16))
    second = bcrypt_hash_with_salt("same-password-123", b"\x01" * 16)
    assert first != second


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
