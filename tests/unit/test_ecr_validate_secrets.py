"""`registryctl validate` and `up` refuse a stack file holding ECR secrets in plain text (exit 2), before anything
runs, as the program itself would."""

from __future__ import annotations

from pathlib import Path

import pytest

from registryctl import cli
from registryctl.cli import EXIT_CONFIG, main

HOOK_URL = "https://hooks.example.com/ecr?key=plain-url-key-1234"
HOOK_TOKEN = "plain-header-token-5678"
UPSTREAM_TOKEN = "dckr_pat_plain-upstream-9012"


def _stack_file(directory: Path, name: str, url: str, token: str, upstream: str) -> Path:
    path = directory / "stacks" / f"Pulumi.{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "config:\n"
        "  registries:ecr:\n"
        "    region: eu-west-1\n"
        "    repositories: [{name: team/api}]\n"
        "    manageRegistrySettings: true\n"
        "    pullThroughCache:\n"
        "      - prefix: dockerhub\n"
        "        upstream: docker-hub\n"
        f"        credentials: {{username: acmebot, token: {upstream}}}\n"
        "    notifications:\n"
        "      - name: ci\n"
        f"        url: {url}\n"
        "        events: [push]\n"
        f"        authHeader: {{name: X-Hook-Token, token: {token}}}\n"
    )
    return path


PLAIN_KEYS = [
    "registries:ecr.notifications[0].url",
    "registries:ecr.notifications[0].authHeader.token",
    "registries:ecr.pullThroughCache[0].credentials.token",
]


def test_validate_refuses_plain_secrets_naming_each_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = _stack_file(tmp_path, "hooks", HOOK_URL, HOOK_TOKEN, UPSTREAM_TOKEN)
    assert main(["validate", "--stack-file", str(path)]) == EXIT_CONFIG
    captured = capsys.readouterr()
    for key in PLAIN_KEYS:
        assert f"pulumi config set --secret --path '{key}'" in captured.err
    for secret in (HOOK_URL, HOOK_TOKEN, UPSTREAM_TOKEN):  # named, never shown
        assert secret not in captured.err + captured.out
    assert "valid" not in captured.out


def test_validate_accepts_the_secrets_once_encrypted(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # What `pulumi config set --secret --path` leaves in the file: each value encrypted in place.
    secure = "{secure: v1:AAAABBBBCCCC}"
    path = _stack_file(tmp_path, "hooks", secure, secure, secure)
    assert main(["validate", "--stack-file", str(path)]) == 0
    assert "Pulumi.hooks.yaml: valid (ecr)" in capsys.readouterr().out


def test_up_refuses_plain_secrets_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    _stack_file(tmp_path, "hooks", HOOK_URL, HOOK_TOKEN, UPSTREAM_TOKEN)
    monkeypatch.setattr(cli, "PROJECT_DIR", tmp_path)
    # Exit 2 (config), not 3 (no Pulumi CLI on this machine) or 1: refused before the CLI is looked for.
    assert main(["up", "-s", "hooks", "--yes"]) == EXIT_CONFIG
    assert "registries:ecr.notifications[0].url" in capsys.readouterr().err


def test_validate_refuses_plain_acr_webhook_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # One rule for every cloud section: the ACR webhook URL and header value are secrets too.
    path = tmp_path / "stacks" / "Pulumi.acrhooks.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(
        "config:\n"
        "  registries:acr:\n"
        "    resourceGroup: {name: rg-registry}\n"
        "    name: acmeregistry01\n"
        "    sku: Standard\n"
        "    webhooks:\n"
        "      - name: deployhook\n"
        f"        url: {HOOK_URL}\n"
        "        actions: [push]\n"
        f"        customHeaders: [{{name: Authorization, secret: {HOOK_TOKEN}}}]\n"
    )
    assert main(["validate", "--stack-file", str(path)]) == EXIT_CONFIG
    captured = capsys.readouterr()
    for key in ("registries:acr.webhooks[0].url", "registries:acr.webhooks[0].customHeaders[0].secret"):
        assert f"pulumi config set --secret --path '{key}'" in captured.err
    assert HOOK_URL not in captured.err + captured.out
    assert HOOK_TOKEN not in captured.err + captured.out
