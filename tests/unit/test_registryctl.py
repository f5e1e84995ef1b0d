"""registryctl without the Pulumi CLI: validate stack files, clear errors for CLI-only commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from registryctl.cli import EXIT_CONFIG, EXIT_NO_CLI, main, masked
from registryctl.registry_client import RegistryCtlError, login, trust_ca
from registryctl.stack_files import read_stack_config


def test_validate_accepts_the_stacks_that_need_no_secrets(capsys):
    assert main(["validate", "-s", "local"]) == 0
    assert main(["validate", "-s", "dev"]) == 0
    assert "Pulumi.local.yaml: valid (selfHosted)" in capsys.readouterr().out


def test_validate_names_every_section_a_stack_declares(capsys):
    assert main(["validate", "-s", "aws"]) == 0
    assert "Pulumi.aws.yaml: valid (ecr)" in capsys.readouterr().out


def test_validate_tells_which_secrets_prod_still_needs(capsys):
    assert main(["validate", "-s", "prod"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "registries:selfHosted.tls.certificate" in err
    assert "pulumi config set --secret" in err


def test_validate_reads_encrypted_values_as_set(tmp_path: Path, capsys):
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text(
        "config:\n"
        "  registries:selfHosted:\n"
        "    image: registry:2.8.3\n"
        "    tls:\n"
        "      mode: provided\n"
        "      certificate: {secure: v1:AAAA}\n"
        "      privateKey: {secure: v1:BBBB}\n"
        "    users: [{name: ci, password: {secure: v1:CCCC}}]\n"
    )
    assert main(["validate", "--stack-file", str(stack)]) == 0
    assert read_stack_config(stack)["selfHosted"]["tls"]["certificate"] != {"secure": "v1:AAAA"}


def test_validate_names_the_bad_key_of_a_broken_file(tmp_path: Path, capsys):
    stack = tmp_path / "Pulumi.local.yaml"
    stack.write_text("config:\n  registries:selfHosted:\n    port: 99999\n")
    assert main(["validate", "--stack-file", str(stack)]) == EXIT_CONFIG
    assert "registries:selfHosted.port" in capsys.readouterr().err


def test_engine_commands_say_they_need_the_pulumi_cli(capsys, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["up", "-s", "local"]) == EXIT_NO_CLI
    assert "needs the Pulumi CLI" in capsys.readouterr().err


def test_outputs_mask_secrets_unless_asked():
    outputs = {"endpoint": ("localhost:5000", False), "users": ({"admin": "pw"}, True)}
    assert masked(outputs) == {"endpoint": "localhost:5000", "users": "[secret]"}
    assert masked(outputs, show_secrets=True)["users"] == {"admin": "pw"}


def test_trust_ca_writes_certs_d_for_the_endpoint(tmp_path: Path):
    path = trust_ca({"endpoint": "localhost:5000", "caCertPem": "PEM"}, certs_dir=tmp_path)
    assert path == tmp_path / "localhost:5000" / "ca.crt"
    assert path.read_text() == "PEM"
    assert trust_ca({"endpoint": "x:1", "caCertPem": ""}, certs_dir=tmp_path) is None


def test_trust_ca_without_permission_says_what_to_do(tmp_path: Path):
    blocked = tmp_path / "certs.d"
    blocked.write_text("a file where a directory should be")  # mkdir fails as it would without root
    with pytest.raises(RegistryCtlError, match="run as root"):
        trust_ca({"endpoint": "localhost:5000", "caCertPem": "PEM"}, certs_dir=blocked)


def test_login_refuses_an_unknown_user_without_leaking_passwords():
    with pytest.raises(RegistryCtlError) as caught:
        login({"endpoint": "localhost:5000", "users": {"admin": "s3cret-pw"}}, user="bob")
    assert "admin" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)
