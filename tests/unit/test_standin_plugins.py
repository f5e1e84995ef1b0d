"""The stand-in provider plugins over gRPC, started as the engine starts them (no CLI): random and tls. The docker
plugin against the real Docker Engine is in tests/e2e/test_standin_docker_plugin.py (it takes the machine lock)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import bcrypt
import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2

from tests.support.plugins.client import BIN, PluginProcess, running_plugin, urn
from tests.support.plugins.server import UNKNOWN
from tests.support.pulumi_runtime import is_secret, unwrap

DIFF_NONE = provider_pb2.DiffResponse.DIFF_NONE
DIFF_SOME = provider_pb2.DiffResponse.DIFF_SOME
PASSWORD = "random:index/randomPassword:RandomPassword"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"
SESSION = "standin-unit"


def _plugin(name: str) -> contextlib.AbstractContextManager[PluginProcess]:
    return running_plugin(name, {"REGISTRIES_STANDIN_SESSION": SESSION})


@pytest.fixture(scope="module")
def random_plugin() -> Iterator[PluginProcess]:
    with _plugin("random") as plugin:
        yield plugin


@pytest.fixture(scope="module")
def tls_plugin() -> Iterator[PluginProcess]:
    with _plugin("tls") as plugin:
        yield plugin


@pytest.mark.parametrize("name", ["docker", "random", "tls"])
def test_each_plugin_reports_the_version_its_sdk_requests(name: str) -> None:
    expected = json.loads(resources.files(f"pulumi_{name}").joinpath("pulumi-plugin.json").read_text())["version"]
    with _plugin(name) as plugin:
        assert plugin.stub.GetPluginInfo(empty_pb2.Empty()).version == expected
        configured = plugin.configure()
        assert configured.acceptSecrets
        assert configured.supportsPreview
        schema = json.loads(plugin.stub.GetSchema(provider_pb2.GetSchemaRequest()).schema)
        assert (schema["name"], schema["version"]) == (name, expected)


def test_random_password_result_and_hash_are_secret_and_a_second_diff_is_empty(random_plugin: PluginProcess) -> None:
    random_plugin.configure()
    target = urn(PASSWORD, "admin-password")
    news = random_plugin.check(target, {"length": 24, "special": False})
    assert news == {"length": 24, "special": False}

    ident, planned = random_plugin.create(target, news, preview=True)
    assert ident == ""
    assert planned["result"] == UNKNOWN
    assert planned["bcryptHash"] == UNKNOWN

    ident, outputs = random_plugin.create(target, news)
    assert ident == "none"
    assert is_secret(outputs["result"])
    assert is_secret(outputs["bcryptHash"])
    password = unwrap(outputs["result"])
    assert len(password) == 24
    assert password.isalnum()
    assert bcrypt.checkpw(password.encode(), unwrap(outputs["bcryptHash"]).encode())

    assert random_plugin.diff(target, ident, news, outputs, news).changes == DIFF_NONE
    changed = random_plugin.diff(target, ident, news, outputs, {**news, "length": 32})
    assert changed.changes == DIFF_SOME
    assert list(changed.replaces) == ["length"]
    assert not changed.deleteBeforeReplace

    found, read, inputs = random_plugin.read(target, ident, outputs, news)
    assert (found, read, inputs) == (ident, outputs, news)  # refresh changes nothing, secrets stay secret


def test_tls_private_key_is_secret_and_a_secret_input_comes_back_secret(tls_plugin: PluginProcess) -> None:
    tls_plugin.configure()
    key_urn = urn(PRIVATE_KEY, "ca-key")
    key_id, key = tls_plugin.create(key_urn, tls_plugin.check(key_urn, {"algorithm": "ECDSA", "ecdsaCurve": "P256"}))
    assert is_secret(key["privateKeyPem"])
    assert is_secret(key["privateKeyPemPkcs8"])
    assert not is_secret(key["publicKeyPem"])
    assert len(key_id) == 40

    cert_urn = urn(SELF_SIGNED, "ca")
    news = tls_plugin.check(
        cert_urn,
        {
            "privateKeyPem": key["privateKeyPem"],  # a secret input, as the engine passes it
            "subject": {"commonName": "test CA"},
            "validityPeriodHours": 24,
            "allowedUses": ["cert_signing"],
            "isCaCertificate": True,
        },
    )
    assert is_secret(news["privateKeyPem"])
    ident, cert = tls_plugin.create(cert_urn, news)
    assert is_secret(cert["privateKeyPem"])
    assert cert["certPem"].startswith("-----BEGIN CERTIFICATE-----")
    assert not is_secret(cert["certPem"])

    early = tls_plugin.diff(cert_urn, ident, news, cert, {**news, "earlyRenewalHours": 2})
    assert early.changes == DIFF_SOME
    assert list(early.replaces) == []
    longer = tls_plugin.diff(cert_urn, ident, news, cert, {**news, "validityPeriodHours": 48})
    assert list(longer.replaces) == ["validityPeriodHours"]
    unknown = tls_plugin.diff(cert_urn, ident, news, cert, {**news, "privateKeyPem": UNKNOWN})
    assert list(unknown.replaces) == ["privateKeyPem"]  # a preview's unknown key plans a replacement


def test_an_unknown_type_fails_with_the_type_named(random_plugin: PluginProcess) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        random_plugin.check(urn("random:index/randomUuid:RandomNothing", "x"), {})
    assert "random:index/randomUuid:RandomNothing" in str(raised.value.details())  # pyright: ignore[reportAttributeAccessIssue]


def test_a_python_without_the_dev_requirements_is_named(tmp_path: Path) -> None:
    """The plugin fails at start naming what to set, not with a traceback the engine shows as a broken plugin."""
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')  # no site-packages: grpc and pulumi missing
    python.chmod(0o755)
    env = {**os.environ, "REGISTRIES_STANDIN_PYTHON": str(python)}
    result = subprocess.run(
        [str(BIN / "pulumi-resource-tls"), "127.0.0.1:1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "cannot import" in result.stderr
    assert "set REGISTRIES_STANDIN_PYTHON" in result.stderr
