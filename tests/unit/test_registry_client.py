"""The e2e registry client keeps secrets off command lines and leaves a user's certs.d as it found it."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import registry_client
from tests.support.registry_client import RegistryUser

CA = "-----BEGIN CERTIFICATE-----\nMIIB-test-ca\n-----END CERTIFICATE-----\n"
PASSWORD = "p4ssw0rd-never-on-argv"


def test_close_leaves_a_certs_d_entry_it_did_not_create(tmp_path):
    real = tmp_path / "certs.d" / "registry.example.com:5000"
    real.mkdir(parents=True)
    (real / "ca.crt").write_text("the user's real CA\n")
    (real / "client.cert").write_text("a client certificate\n")
    user = RegistryUser("registry.example.com:5000", CA, certs_d=tmp_path / "certs.d")
    assert (real / "ca.crt").read_text() == CA  # trusted for the test, like users do
    user.close()
    assert (real / "ca.crt").read_text() == "the user's real CA\n"
    assert (real / "client.cert").exists()


def test_close_removes_only_what_it_created(tmp_path):
    user = RegistryUser("localhost:5000", CA, certs_d=tmp_path)
    assert (tmp_path / "localhost:5000" / "ca.crt").read_text() == CA
    user.close()
    assert not (tmp_path / "localhost:5000").exists()
    existing = tmp_path / "localhost:5001"
    existing.mkdir()
    RegistryUser("localhost:5001", CA, certs_d=tmp_path).close()
    assert existing.is_dir()
    assert not (existing / "ca.crt").exists()


def test_skopeo_gets_the_password_in_a_private_auth_file_never_on_argv(tmp_path, monkeypatch):
    seen: dict[str, Any] = {}

    def fake_run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen["cmd"] = cmd
        auth_file = Path(next(arg.split("=", 1)[1] for arg in cmd if arg.startswith("--authfile=")))
        seen["mode"] = auth_file.stat().st_mode & 0o777
        seen["auth"] = json.loads(auth_file.read_text())
        seen["auth_file"] = auth_file
        return subprocess.CompletedProcess(cmd, 0, stdout='{"Digest": "sha256:abc"}', stderr="")

    monkeypatch.setattr(registry_client.subprocess, "run", fake_run)
    user = RegistryUser("localhost:5000", CA, certs_d=tmp_path / "certs.d")
    try:
        assert user.skopeo_inspect("team/app", "1", "admin", PASSWORD) == {"Digest": "sha256:abc"}
    finally:
        user.close()
    assert not any(PASSWORD in arg for arg in seen["cmd"])
    assert seen["mode"] == 0o600
    token = seen["auth"]["auths"]["localhost:5000"]["auth"]
    assert base64.b64decode(token).decode() == f"admin:{PASSWORD}"
    assert not seen["auth_file"].exists()


def test_a_failed_command_does_not_echo_what_went_by_stdin(monkeypatch):
    def fake_run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 1, stdout=f"echoed {kwargs['input']}", stderr="denied")

    monkeypatch.setattr(registry_client.subprocess, "run", fake_run)
    with pytest.raises(AssertionError) as caught:
        registry_client.run(["docker", "login", "--password-stdin"], stdin=PASSWORD)
    assert PASSWORD not in str(caught.value)
    assert "denied" in str(caught.value)
