"""registryctl's signing check (registryctl/signing_check.py) without the tools: what the tools are given. The real
cosign and notation run it in tests/e2e/test_signing_e2e.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from registryctl.signing_check import (
    NOTATION_LISTED,
    RegistryAccess,
    SigningCheckFailed,
    _environment,
    check_signing,
)


def test_the_tools_keep_the_users_home_for_credential_helpers_but_not_their_own_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus")
    monkeypatch.setenv("COSIGN_PASSWORD", "the-users-own")
    monkeypatch.setenv("NOTATION_PASSWORD", "the-users-own")
    env = _environment(tmp_path, RegistryAccess(tmp_path / "docker", "ci", "s3cret", "-----BEGIN CERTIFICATE-----"))
    assert env["HOME"] == "/home/someone"  # docker-credential-pass / secretservice look there and on the bus
    assert env["DBUS_SESSION_BUS_ADDRESS"] == "unix:path=/run/user/1000/bus"
    assert "COSIGN_PASSWORD" not in env
    assert "NOTATION_PASSWORD" not in env
    assert env["XDG_CONFIG_HOME"] == str(tmp_path / "config")  # notation's keys and trust store: never the user's
    assert env["TUF_ROOT"] == str(tmp_path / "tuf")
    assert env["DOCKER_CONFIG"] == str(tmp_path / "docker")
    assert Path(env["SSL_CERT_FILE"]).read_text().endswith("-----BEGIN CERTIFICATE-----")


def test_the_password_is_not_in_the_repr_and_a_missing_tool_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    access = RegistryAccess(tmp_path, "ci", "s3cret-password")
    assert "s3cret-password" not in repr(access)
    monkeypatch.setenv("PATH", str(tmp_path))  # neither tool
    with pytest.raises(SigningCheckFailed, match=r"signing.ecr.cosign but `cosign` is not on PATH: install it \(go"):
        check_signing({"cosign": {"privateKeyPem": "k", "publicKeyPem": "p"}}, "h/r@sha256:0", "ecr", access)


def test_notation_ls_output_yields_the_signature_digests_and_not_the_subject():
    """The shape notation 1.3.2 prints (cmd/notation/list.go printSignatureManifestDigests), two signatures."""
    subject, first, second = ("sha256:" + c * 64 for c in "abc")
    listed = (
        f"example.azurecr.io/app@{subject}\n"
        "└── application/vnd.cncf.notary.signature\n"
        f"    ├── {first}\n"
        f"    └── {second}\n"
    )
    assert NOTATION_LISTED.findall(listed) == [first, second]
    assert NOTATION_LISTED.findall(f"example.azurecr.io/app@{subject} has no associated signature\n") == []
