"""What the registryctl CLI tests set up again and again: a copy of the project (Pulumi.yaml and one stack file)
that `registryctl` reads instead of the checkout, the recording `pulumi` stand-in with no Docker Hub login in the
environment, and the Hub API emulator answering without waiting."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import registryctl.cli
from registryctl.stack_files import PROJECT_DIR
from tests.support.fake_pulumi_cli import FakePulumi, use_fake_pulumi
from tests.support.hub_emulator import HubEmulator

HUB_LOGIN_VARIABLES = ("DOCKER_USERNAME", "DOCKER_HUB_TOKEN", "DOCKER_PASSWORD")


def project_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stack_file: str | None = None, as_stack: str | None = None
) -> Path:
    """tmp_path/project with the project's Pulumi.yaml and (when named) the checkout's stacks/Pulumi.<stack_file>.yaml
    saved as Pulumi.<as_stack>.yaml; registryctl reads its stacks there."""
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", root / "Pulumi.yaml")
    if stack_file is not None:
        source = PROJECT_DIR / "stacks" / f"Pulumi.{stack_file}.yaml"
        shutil.copy(source, root / "stacks" / f"Pulumi.{as_stack or stack_file}.yaml")
    monkeypatch.setattr(registryctl.cli, "PROJECT_DIR", root)
    return root


def fake_pulumi_without_hub_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    """The recording `pulumi` stand-in; no Docker Hub credential in the environment (a test sets what it needs)."""
    fake = use_fake_pulumi(tmp_path, monkeypatch, outputs={})
    for name in HUB_LOGIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return fake


@contextmanager
def quick_hub(users: dict[str, str]) -> Iterator[HubEmulator]:
    """The Hub API emulator with these users, whose 429 answers ask for no wait (Retry-After: 0)."""
    with HubEmulator(users=users) as emulator:
        emulator.retry_after = "0"
        yield emulator
