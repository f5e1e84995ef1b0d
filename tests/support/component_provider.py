"""Drive the `registries` component provider as the engine does, under the SDK's mock runtime."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi.runtime
from google.protobuf import struct_pb2
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ProviderServicer
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests.support.pulumi_runtime import SECRET_SIG, SECRET_VALUE, StackOutput

OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
"""How the engine marks an output value on the wire (sdk/go/common/resource/properties.go)."""


def wire_secret(value: Any) -> dict[str, Any]:
    """A top-level secret input as the engine serializes it."""
    return {SECRET_SIG: SECRET_VALUE, "value": value}


def wire_secret_output(value: Any, *dependencies: str) -> dict[str, Any]:
    """A secret nested in an object or list: the engine sends output values to providers that accept them."""
    return {SECRET_SIG: OUTPUT_VALUE_SIG, "value": value, "secret": True, "dependencies": list(dependencies)}


def construct(
    provider: ComponentProvider, resource_type: str, name: str, wire: dict[str, Any]
) -> dict[str, pulumi.Output[Any]]:
    """Construct `resource_type` from camelCase wire inputs; return its state (outputs by schema name).

    The inputs take the provider server's own path: a protobuf Struct deserialized by ProviderServicer, whose
    values are plain, or Outputs where secret or carrying output values, as in a real Construct call."""
    struct = struct_pb2.Struct()
    struct.update(wire)
    inputs = _sync_await(ProviderServicer._construct_inputs(struct, {}))
    result = provider.construct(name, resource_type, inputs, pulumi.ResourceOptions())
    return {key: pulumi.Output.from_input(value) for key, value in result.state.items()}


def run_under_mocks(
    mocks: pulumi.runtime.Mocks, body: Callable[[], Mapping[str, pulumi.Output[Any]]], *, preview: bool = False
) -> dict[str, StackOutput]:
    """Run `body` (which constructs components) under the SDK's mock runtime; return its resolved outputs.

    Unlike tests.support.pulumi_runtime.run_program this needs nothing from registries/: a provider host has no
    stack config and no program."""
    pulumi.runtime.set_mocks(mocks, project="consumer", stack="dev", preview=preview)
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    collected: dict[str, StackOutput] = {}

    async def resolve(outputs: Mapping[str, pulumi.Output[Any]]) -> None:
        for key, value in outputs.items():
            collected[key] = StackOutput(await value.future(), bool(await value.is_secret()))

    _sync_await(run_pulumi_func(lambda: _sync_await(resolve(body()))))
    return collected
