"""`registryctl validate` refuses a stack file holding Artifact Registry hook URLs in plain text (exit 2, each key
named, never shown), as the program does, and accepts them encrypted in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from registryctl.cli import EXIT_CONFIG, main

HOOK_URL = "https://hooks.example.com/ar?token=plain-url-token-1234"


def _stack_file(directory: Path, url: str) -> Path:
    path = directory / "stacks" / "Pulumi.gar.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "config:\n"
        "  registries:artifactRegistry:\n"
        "    project: acme-registries\n"
        "    location: europe-west1\n"
        "    repositories: [{name: apps}]\n"
        "    notifications:\n"
        "      - name: deploy\n"
        f"        url: {url}\n"
    )
    return path


def test_validate_refuses_a_plain_hook_url_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = _stack_file(tmp_path, HOOK_URL)
    assert main(["validate", "--stack-file", str(path)]) == EXIT_CONFIG
    captured = capsys.readouterr()
    key = "registries:artifactRegistry.notifications[0].url"
    assert f"pulumi config set --secret --path '{key}'" in captured.err
    assert "plain-url-token" not in captured.err + captured.out


def test_validate_accepts_the_url_once_encrypted(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # What `pulumi config set --secret --path` leaves in the file: the value encrypted in place (its query string
    # cannot be checked then; the program checks it when it runs).
    path = _stack_file(tmp_path, "{secure: v1:AAAABBBBCCCC}")
    assert main(["validate", "--stack-file", str(path)]) == 0, capsys.readouterr().err
