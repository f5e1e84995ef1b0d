"""Unit-test helpers: run the program under inert recording mocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.pulumi_runtime import StackOutput, config_from_stack_file, run_program
from tests.support.recording_mocks import RecordingMocks

ROOT = Path(__file__).resolve().parents[2]
ALL_STACK_FILES = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))


def _self_hosted_platform(path: Path) -> str | None:
    """Where a stack file's self-hosted registry runs (docker, kubernetes), or None without one."""
    section = yaml.safe_load(path.read_text())["config"].get("registries:selfHosted")
    return None if section is None else section.get("platform", "docker")


STACK_FILES = [p for p in ALL_STACK_FILES if _self_hosted_platform(p) == "docker"]
"""The stack files that declare a self-hosted registry on a Docker host."""
KUBERNETES_STACK_FILES = [p for p in ALL_STACK_FILES if _self_hosted_platform(p) == "kubernetes"]
"""The stack files that declare a self-hosted registry on Kubernetes."""

# What a user sets with `pulumi config set --secret --path` before deploying a stack file that needs it.
TEST_CERT = "-----BEGIN CERTIFICATE-----\nMIIB-test-chain\n-----END CERTIFICATE-----\n"
TEST_KEY = "-----BEGIN PRIVATE KEY-----\nMIIE-test-key\n-----END PRIVATE KEY-----\n"
STACK_SECRETS: dict[str, dict[str, Any]] = {
    "prod": {
        "tls": {"certificate": TEST_CERT, "privateKey": TEST_KEY},
        "users": {0: {"password": "prod-admin-password-1234"}},
        "notifications": {0: {"authorization": "Bearer prod-webhook-token"}},
    }
}


def _merge(target: Any, patch: Any) -> Any:
    if isinstance(patch, dict) and isinstance(target, list):
        for index, value in patch.items():
            target[index] = _merge(target[index], value)
        return target
    if isinstance(patch, dict) and isinstance(target, dict):
        for key, value in patch.items():
            target[key] = _merge(target.get(key), value)
        return target
    return patch


def stack_config(path: Path) -> tuple[str, dict[str, str], list[str]]:
    """(stack, runtime config, secret keys) of a stack file, with the secrets its header asks for."""
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    document = yaml.safe_load(path.read_text())
    secrets = STACK_SECRETS.get(stack)
    secret_keys = []
    if secrets:
        _merge(document["config"]["registries:selfHosted"], json.loads(json.dumps(secrets), object_hook=_int_keys))
        secret_keys.append("registries:selfHosted")
    return stack, config_from_stack_file(document), secret_keys


def _int_keys(obj: dict[str, Any]) -> dict[Any, Any]:
    return {int(k) if k.isdigit() else k: v for k, v in obj.items()}


Runner = Callable[..., tuple[RecordingMocks, dict[str, StackOutput]]]


@pytest.fixture
def run() -> Runner:
    """run(selfHosted=..., dockerHub=..., stack="local") -> (mocks, outputs)."""

    def _run(
        stack: str = "local", secret: bool = False, **sections: Any
    ) -> tuple[RecordingMocks, dict[str, StackOutput]]:
        mocks = RecordingMocks()
        config = {f"registries:{k}": json.dumps(v) for k, v in sections.items()}
        outputs = run_program(mocks, stack=stack, config=config, secret_keys=list(config) if secret else [])
        return mocks, outputs

    return _run


def record_options(monkeypatch: pytest.MonkeyPatch, owner: Any, attribute: str) -> dict[str, Any]:
    """Wrap the resource class `owner.attribute` so each declaration's ResourceOptions are recorded by name.

    The mock monitor does not pass options such as protect and retain_on_delete to the mocks."""
    seen: dict[str, Any] = {}
    original = getattr(owner, attribute)

    def recording(resource_name: str, *args: Any, **kwargs: Any) -> Any:
        opts = kwargs.get("opts", args[-1] if args else None)
        assert opts is not None, f"{resource_name} declared without options"
        seen[resource_name] = opts
        return original(resource_name, *args, **kwargs)

    monkeypatch.setattr(owner, attribute, recording)
    return seen


def problem_at(error: Any, key: str) -> Any:
    """The ConfigProblem of `key` in a ConfigError (fails listing the paths it has)."""
    problem = next((p for p in error.problems if p.path == key), None)
    assert problem is not None, f"{key} not in {error.paths}"
    return problem
