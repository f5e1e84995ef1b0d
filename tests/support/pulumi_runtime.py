"""Run the program under the Pulumi SDK's mock runtime and collect its stack outputs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.runtime
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from schema import PROJECT

SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"


def wrap_secret(value: Any) -> dict[str, Any]:
    """What a provider returns for a secret output."""
    return {SECRET_SIG: SECRET_VALUE, "value": value}


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def unwrap(value: Any) -> Any:
    """Strip secret wrappers, recursively."""
    if is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def contains_secret(value: Any) -> bool:
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


@dataclass(frozen=True)
class StackOutput:
    value: Any
    secret: bool


def config_from_stack_file(document: Mapping[str, Any]) -> dict[str, str]:
    """Turn a stack file's `config:` map into the runtime's flat config (objects as JSON)."""
    out: dict[str, str] = {}
    for key, value in (document.get("config") or {}).items():
        out[key] = value if isinstance(value, str) else json.dumps(value)
    return out


def run_program(
    mocks: pulumi.runtime.Mocks,
    *,
    stack: str,
    config: Mapping[str, str],
    secret_keys: list[str] | None = None,
) -> dict[str, StackOutput]:
    """Run registryctl.program.declare under `mocks`; return the resolved stack outputs."""
    from registryctl.program import declare, load_spec

    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(dict(config), secret_keys or [])
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    collected: dict[str, StackOutput] = {}

    async def resolve(outputs: Mapping[str, Any]) -> None:
        for key, value in outputs.items():
            out = pulumi.Output.from_input(value)
            collected[key] = StackOutput(await out.future(), bool(await out.is_secret()))

    def body() -> None:
        outputs = declare(load_spec())
        _sync_await(resolve(outputs))

    _sync_await(run_pulumi_func(body))
    return collected
