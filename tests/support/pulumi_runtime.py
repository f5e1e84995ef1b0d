"""Run the program under the Pulumi SDK's mock runtime and collect its stack outputs."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.runtime
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from registries.spec import PROJECT

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


def without_secrets(value: Any) -> Any:
    """`value` with every secret replaced by "<secret>": what may be shown or stored in plain."""
    if is_secret(value):
        return "<secret>"
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


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
    preview: bool = False,
    program: Callable[[], Mapping[str, Any]] | None = None,
) -> dict[str, StackOutput]:
    """Run registries.program.declare (or `program`) under `mocks`; return the resolved stack outputs.

    With preview=True the runtime is in dry-run mode, as under `pulumi preview`: outputs the engine
    does not know yet are unknown, and an output that depends on them is unknown too (value None)."""
    from registries.program import declare, load_spec

    # An engine that models more than the SDK's mock monitor brings its own monitor, and wants the config.
    make_monitor = getattr(mocks, "monitor", None)
    monitor = make_monitor() if callable(make_monitor) else None
    if monitor is not None and not isinstance(monitor, MockMonitor):
        raise TypeError(f"{type(mocks).__name__}.monitor() must return a MockMonitor")
    started = getattr(mocks, "program_started", None)
    if callable(started):
        started(stack=stack, project=PROJECT, config=dict(config), preview=preview)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config), secret_keys or [])
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    collected: dict[str, StackOutput] = {}

    async def resolve(outputs: Mapping[str, Any]) -> None:
        for key, value in outputs.items():
            out = pulumi.Output.from_input(value)
            collected[key] = StackOutput(await out.future(), bool(await out.is_secret()))

    def body() -> None:
        outputs = program() if program is not None else declare(load_spec())
        _sync_await(resolve(outputs))

    _sync_await(run_pulumi_func(body))
    return collected
