"""Run the program under the Pulumi SDK's mock runtime and collect its stack outputs."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.runtime
from google.protobuf import struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor, MockResourceArgs, _resolve_callbacks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from registries.config import PROJECT

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


def element(items: Any, match: Callable[[Any], bool]) -> Any:
    """The one element of a list input whose plain value matches, as it travels: its own secret wrapper (or its
    fields') kept. The list itself is never secret as a whole (secretness is per element, as in the engine)."""
    assert isinstance(items, list), f"expected a list of elements, got {type(items).__name__}"
    found = [item for item in items if match(unwrap(item))]
    assert len(found) == 1, f"{len(found)} elements match"
    return found[0]


def env_element(inputs: dict[str, Any], name: str) -> Any:
    """The container env `name=...` as it travels (secret wrapper kept)."""
    return element(inputs["envs"], lambda env: env.split("=", 1)[0] == name)


def upload_content(inputs: dict[str, Any], path: str) -> Any:
    """The content of the container upload at `path` as it travels (secret wrapper kept)."""
    upload = element(inputs["uploads"], lambda u: u["file"] == path)
    return upload["value"]["content"] if is_secret(upload) else upload["content"]


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


def deserialize_keeping_secrets(value: Any, keep_unknowns: bool | None = None) -> Any:
    """A request's protobuf properties as Python values, each secret wrapped where the SDK put it.

    The SDK serializes secretness per element (a list of uploads with one secret content keeps the others
    plain), and the engine stores it so. `rpc.deserialize_properties` instead raises a nested secret to the
    enclosing list or object, which would make a plain sibling look secret: this walk does not."""
    if isinstance(value, struct_pb2.Struct):
        fields = value.fields
        signature = fields[rpc._special_sig_key].string_value if rpc._special_sig_key in fields else None
        if signature == rpc._special_secret_sig:
            return wrap_secret(deserialize_keeping_secrets(value["value"], keep_unknowns))
        if signature is not None:  # an asset, archive, resource reference or output value: the SDK's own
            return rpc.deserialize_properties(value, keep_unknowns)
        return {k: deserialize_keeping_secrets(v, keep_unknowns) for k, v in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [deserialize_keeping_secrets(v, keep_unknowns) for v in value]
    return rpc.deserialize_property(value, keep_unknowns)


class SecretKeepingMonitor(MockMonitor):
    """The SDK's mock monitor, but the mocks get each secret where the program put it (per element), as the
    engine keeps it in state, not raised to the enclosing list (see deserialize_keeping_secrets).

    RegisterResource is the SDK's (pulumi/runtime/mocks.py, 3.272) with that one deserializer swapped."""

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        _ensure_event_loop()  # deserializing resource references needs one on this thread
        resource_args = MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=deserialize_keeping_secrets(request.object),
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
            transforms=_resolve_callbacks(request.transforms),
        )
        ident, state = self.mocks.new_resource(resource_args)
        ident = ident or ""
        obj_proto = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, ident, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=ident, object=obj_proto)


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
    monitor = make_monitor() if callable(make_monitor) else SecretKeepingMonitor(mocks)
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
