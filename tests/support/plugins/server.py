"""A Pulumi resource provider plugin (gRPC) whose resource operations come from the local engine's backends.

The real Pulumi engine starts the plugin, reads the port from its first line of output and then drives it:
CheckConfig / Configure, Check, Diff, Create, Read, Update, Delete, Invoke. The engine plans and orders every
step; this module only does the provider's own work, with a `Backend` of tests/support/local_engine.py (the same
objects the local engine applies resources with: real Docker Engine, real moto, cryptography, secrets/bcrypt).

Values travel as protobuf Structs. Secrets keep the wire form the engine uses (a dict with Pulumi's secret
signature and a `value`) at the exact place they arrive, element by element: nothing here raises secretness to a
whole list or object (unlike `pulumi.runtime.rpc.deserialize_properties`). Backends get plain values; their
outputs are marked secret again where the input they echo was secret, where the real provider's schema marks the
output secret, and where the old state had a secret (refresh).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import traceback
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from tests.support.local_engine import Applied, Backend, _annotate_secrets, backend_diff, read_resource
from tests.support.pulumi_runtime import is_secret, unwrap, wrap_secret

UNKNOWN = rpc.UNKNOWN
"""The engine's unknown value on the wire (a preview's not-yet-known input or output)."""

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Plugin:
    """What one stand-in serves: the real provider's package name and version, and its resource behaviour."""

    name: str
    version: str
    configure: Callable[[dict[str, Any]], list[Backend]]
    """Given the provider configuration (camelCase keys, typed values), the backends its resources use."""
    describe: Callable[[str], tuple[frozenset[str], frozenset[str], frozenset[str]]]
    """Per type token: (input names, output names, secret output names) as the real provider's schema has them."""
    types: frozenset[str] = frozenset()
    """The resource types this stand-in serves (those its backend applies); any other fails Check, naming it."""
    preview_only: frozenset[str] = frozenset()
    """Types the stand-in previews but cannot apply (no backend for them here): Check and a preview's Create and
    Update answer; a real Create, Update, Delete or Read fails with `refusal`."""
    refusal: str = ""
    """Why the preview-only types cannot be applied, e.g. 'no Google Cloud backend on this machine'."""
    autonamed: frozenset[str] = frozenset()
    """Types whose `name` the provider fills in when the program gives none (tfbridge's SetAutonaming)."""
    invokes: Mapping[str, Callable[[Plugin, dict[str, Any]], dict[str, Any]]] = field(default_factory=dict)
    schema: Callable[[], dict[str, Any]] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    backends: list[Backend] = field(default_factory=list)

    def refuse(self, typ: str, operation: str) -> None:
        """Fail a step the stand-in cannot apply (so an `up` fails loudly instead of pretending)."""
        if typ in self.preview_only:
            raise NotImplementedError(
                f"stand-in pulumi-resource-{self.name} {self.version}: preview only, {self.refusal}: "
                f"cannot {operation} {typ}"
            )

    def backend(self, typ: str) -> Backend:
        for backend in self.backends:
            if typ.startswith(backend.prefixes):
                return backend
        raise NotImplementedError(
            f"stand-in pulumi-resource-{self.name} {self.version}: no backend applies resources of type {typ}"
        )


# -- values -----------------------------------------------------------------------------------------
def _numbers(value: Any) -> Any:
    """Protobuf numbers are doubles: whole ones become ints (ports, lengths, hours), as the providers read them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def from_struct(struct: struct_pb2.Struct | None) -> dict[str, Any]:
    """A Struct as plain Python, secrets kept in their wire form where they are."""
    if struct is None:
        return {}
    return _numbers(json_format.MessageToDict(struct))


def to_struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(dict(values))
    return out


def mark_secrets(outputs: dict[str, Any], raw_inputs: Mapping[str, Any], secret_keys: frozenset[str]) -> dict[str, Any]:
    """Outputs as the provider returns them: secret where they echo a secret input (per element) and where the
    schema says the output is secret."""
    marked = {k: _annotate_secrets(v, raw_inputs[k]) if k in raw_inputs else v for k, v in outputs.items()}
    return {
        k: wrap_secret(unwrap(v)) if k in secret_keys and v not in (None, UNKNOWN) and not is_secret(v) else v
        for k, v in marked.items()
    }


def _config_value(value: Any) -> Any:
    """A config value as typed: JSON objects, lists and booleans given as text are parsed."""
    if (isinstance(value, str) and value[:1] in ("[", "{")) or value in ("true", "false"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def type_and_name(urn: str, typ: str = "", name: str = "") -> tuple[str, str]:
    """The resource's type token and logical name: from the request, or parsed from its URN."""
    if typ and name:
        return typ, name
    parts = urn.split("::")
    return typ or parts[2].split("$")[-1], name or parts[3]


def _autoname(logical: str, seed: bytes) -> str:
    """tfbridge's autoname: the logical name, a dash and 7 hex characters (from the engine's random seed)."""
    suffix = seed.hex()[:7] if len(seed) >= 4 else secrets.token_hex(4)[:7]
    return f"{logical}-{suffix}"


def _has_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


# -- the gRPC service -------------------------------------------------------------------------------
def _rpc(method: Callable[..., Any]) -> Callable[..., Any]:
    """Report a failure to the engine as the provider's error message (what `pulumi up` prints)."""

    def wrapper(self: StandinProvider, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            context.abort(grpc.StatusCode.UNKNOWN, f"{type(error).__name__}: {error}")

    wrapper.__name__ = method.__name__
    return wrapper


class StandinProvider(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self, plugin: Plugin) -> None:
        self.plugin = plugin

    @staticmethod
    def _old(request: Any, outputs: struct_pb2.Struct, inputs_field: str) -> tuple[Applied, dict[str, Any]]:
        """The resource as the engine's state holds it (plain, for the backends), and its outputs as stored (secrets
        in place). Old inputs come from their own field when the engine sends them, else from the outputs."""
        typ, name = type_and_name(request.urn, request.type, request.name)
        old_outputs = from_struct(outputs)
        old_inputs = from_struct(getattr(request, inputs_field)) if request.HasField(inputs_field) else old_outputs
        applied = Applied(typ, name, request.id, unwrap(old_inputs), unwrap(old_outputs), old_inputs, request.urn)
        return applied, old_outputs

    # -- plugin and provider configuration ----------------------------------------------------------
    @_rpc
    def GetPluginInfo(self, request: Any, context: Any) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=self.plugin.version)

    @_rpc
    def GetSchema(self, request: Any, context: Any) -> provider_pb2.GetSchemaResponse:
        schema = self.plugin.schema() if self.plugin.schema else {"name": self.plugin.name}
        return provider_pb2.GetSchemaResponse(schema=json.dumps({**schema, "version": self.plugin.version}))

    @_rpc
    def CheckConfig(self, request: Any, context: Any) -> provider_pb2.CheckResponse:
        return provider_pb2.CheckResponse(inputs=request.news)

    @_rpc
    def DiffConfig(self, request: Any, context: Any) -> provider_pb2.DiffResponse:
        olds, news = unwrap(from_struct(request.olds)), unwrap(from_struct(request.news))
        olds.pop("version", None)
        news.pop("version", None)
        changed = sorted(k for k in set(olds) | set(news) if olds.get(k) != news.get(k))
        kind = provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE
        return provider_pb2.DiffResponse(changes=kind, diffs=changed)

    @_rpc
    def Configure(self, request: Any, context: Any) -> provider_pb2.ConfigureResponse:
        # A default provider's inputs are the stack's `<package>:<key>` config as strings (an object or list set with
        # --path arrives as JSON, a flag as "true"), as a bridged provider's CheckConfig parses them by its schema.
        config = unwrap(from_struct(request.args)) if request.HasField("args") else {}
        if not config:  # older engines: only the flat variables, "<package>:config:<key>" -> string
            config = {key.rsplit(":", 1)[-1]: text for key, text in request.variables.items()}
        config = {key: _config_value(value) for key, value in config.items()}
        self.plugin.config = config
        self.plugin.backends = self.plugin.configure(config)
        return provider_pb2.ConfigureResponse(
            acceptSecrets=True, supportsPreview=True, acceptResources=False, acceptOutputs=False
        )

    @_rpc
    def Cancel(self, request: Any, context: Any) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    @_rpc
    def Invoke(self, request: Any, context: Any) -> provider_pb2.InvokeResponse:
        answer = self.plugin.invokes.get(request.tok)
        if answer is None:
            raise NotImplementedError(
                f"stand-in pulumi-resource-{self.plugin.name}: function {request.tok} is not served "
                f"(served: {', '.join(sorted(self.plugin.invokes)) or 'none'})"
            )
        result = answer(self.plugin, unwrap(from_struct(request.args)))
        response = provider_pb2.InvokeResponse()
        getattr(response, "return").CopyFrom(to_struct(result))  # `return` is a Python keyword
        return response

    # -- resources ----------------------------------------------------------------------------------
    @_rpc
    def Check(self, request: Any, context: Any) -> provider_pb2.CheckResponse:
        typ, name = type_and_name(request.urn, request.type, request.name)
        news = from_struct(request.news)
        if typ in self.plugin.autonamed and "name" not in news:
            olds = from_struct(request.olds)
            news["name"] = olds["name"] if "name" in olds else _autoname(name, bytes(request.randomSeed))
        if typ not in self.plugin.types and typ not in self.plugin.preview_only:  # fails before anything is planned
            served = ", ".join(sorted(self.plugin.types)) or "nothing but previews"
            raise NotImplementedError(
                f"stand-in pulumi-resource-{self.plugin.name} {self.plugin.version} does not serve {typ}; it serves "
                + served
            )
        return provider_pb2.CheckResponse(inputs=to_struct(news))

    @_rpc
    def Diff(self, request: Any, context: Any) -> provider_pb2.DiffResponse:
        old, _ = self._old(request, request.olds, "old_inputs")
        typ, news = old.typ, from_struct(request.news)
        plain = {k: (UNKNOWN if _has_unknown(v) else unwrap(v)) for k, v in news.items()}
        if typ in self.plugin.preview_only:  # no ForceNew table: old inputs against new, a change is an update
            changed = sorted(k for k in set(old.inputs) | set(plain) if old.inputs.get(k) != plain.get(k))
            if not changed:
                return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)
            update = provider_pb2.PropertyDiff(kind=provider_pb2.PropertyDiff.UPDATE, inputDiff=True)
            return provider_pb2.DiffResponse(
                changes=provider_pb2.DiffResponse.DIFF_SOME,
                diffs=changed,
                detailedDiff={key: update for key in changed},
                hasDetailedDiff=True,
            )
        diff = backend_diff(self.plugin.backend(typ), old, plain)
        if not diff.changes:
            return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)
        kind = provider_pb2.PropertyDiff
        detailed = {
            key: kind(kind=kind.UPDATE_REPLACE if key in diff.replaces else kind.UPDATE, inputDiff=True)
            for key in diff.changed_keys
        }
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME,
            replaces=list(diff.replaces),
            deleteBeforeReplace=diff.delete_before_replace,
            diffs=list(diff.changed_keys),
            detailedDiff=detailed,
            hasDetailedDiff=True,
        )

    def _outputs(self, typ: str, outputs: dict[str, Any], raw_inputs: Mapping[str, Any]) -> struct_pb2.Struct:
        outputs = {k: v for k, v in outputs.items() if k != "__provider"}
        return to_struct(mark_secrets(outputs, raw_inputs, self.plugin.describe(typ)[2]))

    @_rpc
    def Create(self, request: Any, context: Any) -> provider_pb2.CreateResponse:
        typ, name = type_and_name(request.urn, request.type, request.name)
        news = from_struct(request.properties)
        if request.preview:  # nothing is touched: the inputs, and the computed outputs unknown
            inputs, outputs, _ = self.plugin.describe(typ)
            computed = {k: UNKNOWN for k in outputs - inputs if k not in news}
            return provider_pb2.CreateResponse(id="", properties=self._outputs(typ, {**news, **computed}, news))
        self.plugin.refuse(typ, "create")
        ident, outputs = self.plugin.backend(typ).create(typ, name, unwrap(news))
        return provider_pb2.CreateResponse(id=ident, properties=self._outputs(typ, outputs, news))

    @_rpc
    def Read(self, request: Any, context: Any) -> provider_pb2.ReadResponse:
        applied, old_outputs = self._old(request, request.properties, "inputs")
        typ = applied.typ
        self.plugin.refuse(typ, "read")
        found = read_resource(self.plugin.backend(typ), applied)
        if found is None:  # gone: the engine drops it from state
            return provider_pb2.ReadResponse(id="")
        inputs = found.inputs if found.inputs is not None else applied.inputs
        # What was secret in state stays secret (the engine stores per element); so do the schema's secrets.
        return provider_pb2.ReadResponse(
            id=found.ident,
            properties=self._outputs(typ, found.outputs, old_outputs),
            inputs=to_struct(mark_secrets(inputs, applied.raw_inputs, frozenset())),
        )

    @_rpc
    def Update(self, request: Any, context: Any) -> provider_pb2.UpdateResponse:
        applied, old_outputs = self._old(request, request.olds, "old_inputs")
        typ, news = applied.typ, from_struct(request.news)
        if request.preview:  # a bridged provider's plan: the old state with the new inputs
            outputs: dict[str, Any] = {**applied.outputs, **news}
        else:
            self.plugin.refuse(typ, "update")
            updated = self.plugin.backend(typ).update(applied, unwrap(news))
            outputs = updated[1] if updated is not None else {**applied.outputs, **unwrap(news)}
        # Secret where the new input is, else where the old state was (a computed secret output).
        return provider_pb2.UpdateResponse(properties=self._outputs(typ, outputs, {**old_outputs, **news}))

    @_rpc
    def Delete(self, request: Any, context: Any) -> empty_pb2.Empty:
        applied, _ = self._old(request, request.properties, "old_inputs")
        self.plugin.refuse(applied.typ, "delete")
        self.plugin.backend(applied.typ).delete(applied)
        return empty_pb2.Empty()


def serve(plugin: Plugin, argv: list[str] | None = None) -> None:
    """Run as the engine runs a plugin: `<engine address> [flags]`; the port goes out as the first line."""
    parser = argparse.ArgumentParser(prog=f"pulumi-resource-{plugin.name}")
    parser.add_argument("engine", nargs="?", help="the engine's gRPC address (unused: nothing is logged to it)")
    parser.parse_known_args(argv)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=[("grpc.max_receive_message_length", -1)])
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(StandinProvider(plugin), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    server.wait_for_termination()
