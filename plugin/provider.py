"""The `registries` component provider: hosts the library's components for programs in any Pulumi language.

Its package schema is what the SDK's analyzer (pulumi.provider.experimental) infers from each component's Args
TypedDict and output annotations, plus the one convention the analyzer has no notion of: a property whose
docstring starts with `Secret.` is secret (`"secret": true`), so generated SDKs and the engine treat it as one."""

import copy
import json
from typing import Any

import pulumi
from pulumi.errors import InputPropertyError
from pulumi.provider.experimental.analyzer import PropertyDefinition, PropertyType, TypeDefinition
from pulumi.provider.experimental.component import ComponentProvider

from components.acr import Acr
from components.artifact_registry import ArtifactRegistry
from components.dockerhub import DockerHub
from components.ecr import EcrRegistry
from components.kubernetes_registry import KubernetesRegistry
from components.selfhosted.registry import SelfHostedRegistry
from components.signing import SigningKeys

PACKAGE = "registries"
"""Package name: resource tokens are `registries:index:<ClassName>`."""
SECRET_MARKER = "Secret."  # noqa: S105 - a docstring prefix, not a credential
"""How a docstring says its property is secret (COMMON.md, library conventions)."""
WHOLE_OBJECT_OUTPUT = (
    "cannot be secret or unknown as a whole object; give its secret fields as secret outputs (pulumi.secret) instead"
)
"""Why an object input that arrives as one Output is refused (the SDK would map it to an empty object). It also
arrives so when a secret inside it was sent as a plain secret value: the SDK then marks the whole object secret."""
PLAIN_OUTPUT = "must be a plain value (it decides which resources are declared), not an output or a secret"
"""Why an Output given for a plain property is refused (the component would get an Output where it needs a value)."""
COMPONENTS: list[type[pulumi.ComponentResource]] = [
    SelfHostedRegistry,
    KubernetesRegistry,
    DockerHub,
    EcrRegistry,
    ArtifactRegistry,
    Acr,
    SigningKeys,
]
"""Every component the plugin hosts, in schema order."""


def _mark(properties: dict[str, Any] | None) -> None:
    for prop in (properties or {}).values():
        if str(prop.get("description", "")).startswith(SECRET_MARKER):
            prop["secret"] = True


def mark_secrets(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a package schema with `secret: true` on each property (component input or output, or a property
    of a nested type) whose description starts with `Secret.`."""
    marked = copy.deepcopy(schema)
    for resource in marked.get("resources", {}).values():
        _mark(resource.get("inputProperties"))
        _mark(resource.get("properties"))
    for complex_type in marked.get("types", {}).values():
        _mark(complex_type.get("properties"))
    return marked


def _as_int(value: Any, path: str) -> Any:
    """An integer input as the component expects it: the wire carries every number as a float."""
    if isinstance(value, pulumi.Output):
        return value.apply(lambda resolved: _as_int(resolved, path))
    if isinstance(value, float):
        if not value.is_integer():
            raise InputPropertyError(path, f"{path}: {value!r} is not an integer")
        return int(value)
    return value


def _integers(value: Any, prop: PropertyDefinition, path: str) -> Any:
    if prop.type == PropertyType.INTEGER:
        return _as_int(value, path)
    items = prop.items
    if items is not None and items.type == PropertyType.INTEGER and isinstance(value, list):
        return [_as_int(item, f"{path}[{index}]") for index, item in enumerate(value)]
    values = prop.additional_properties
    if values is not None and values.type == PropertyType.INTEGER and isinstance(value, dict):
        return {key: _as_int(item, f"{path}.{key}") for key, item in value.items()}
    return value


def _enum_member(value: Any, type_def: TypeDefinition, path: str) -> Any:
    if isinstance(value, pulumi.Output):
        raise InputPropertyError(path, f"{path}: {PLAIN_OUTPUT}")
    try:
        return type_def.python_type(value)
    except ValueError as error:
        allowed = ", ".join(repr(member.value) for member in type_def.enum or [])
        raise InputPropertyError(path, f"{path}: {value!r} is not one of {allowed}") from error


def _enum_items(value: Any, type_def: TypeDefinition, path: str) -> Any:
    if isinstance(value, list):
        return [_enum_member(item, type_def, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: _enum_member(item, type_def, f"{path}.{key}") for key, item in value.items()}
    raise InputPropertyError(path, f"{path}: {value!r} is not a list")


class RegistriesProvider(ComponentProvider):
    """The SDK's ComponentProvider over `components`, serving the schema with secret properties marked."""

    def __init__(self, components: list[type[pulumi.ComponentResource]] | None = None) -> None:
        # Version left to the SDK's default ("0.0.0", as component_provider_host does): a git-sourced plugin is
        # versioned by the ref `pulumi package add` fetched, and a schema version would pin generated SDKs to it.
        super().__init__(list(COMPONENTS if components is None else components), PACKAGE)
        if self.schema is None:
            raise RuntimeError("ComponentProvider produced no schema")
        self.schema = json.dumps(mark_secrets(json.loads(self.schema)))

    def map_input_properties(
        self,
        inputs: Any,
        properties: dict[str, PropertyDefinition],
        mapping: dict[str, str],
        component_name: str,
        property_path: str,
    ) -> Any:
        """The SDK's mapping (schema names to Python names, required inputs checked), with integers as `int`.

        pulumi 3.272's mapping converts an integer input with int() and then overwrites it with the wire's float
        (a missing `continue`), fails with a TypeError on an integer that is an Output (secret, or another
        resource's), never converts integers in lists or maps, maps each item of a list of enum values as an
        object (every item becomes {}), and maps a whole object that arrives as an Output to an empty one.
        Nested objects are mapped by recursive calls to this same method."""
        if isinstance(inputs, pulumi.Output):  # an item of a list or map of objects
            raise InputPropertyError(property_path, f"{property_path}: {WHOLE_OBJECT_OUTPUT}")
        if not isinstance(inputs, dict):
            return super().map_input_properties(inputs, properties, mapping, component_name, property_path)
        staged: dict[str, Any] = dict(inputs)
        resolved_later: dict[str, Any] = {}
        for schema_name, prop in properties.items():
            value = staged.get(schema_name)
            if value is None:
                continue
            path = f"{property_path}.{schema_name}" if property_path else schema_name
            named = next((p for p in (prop, prop.items, prop.additional_properties) if p is not None and p.ref), None)
            type_def = self.get_type_definition(named) if named is not None else None
            if type_def is not None and isinstance(value, pulumi.Output):
                # The SDK maps names inside plain dicts and lists only: it would hand the component camelCase keys.
                refused = PLAIN_OUTPUT if type_def.enum else WHOLE_OBJECT_OUTPUT
                raise InputPropertyError(path, f"{path}: {refused}")
            if type_def is not None and type_def.enum and named is not prop:
                # A list or map of enum values: the SDK maps each item as an object, turning "push" into {}.
                resolved_later[mapping[schema_name]] = _enum_items(value, type_def, path)
                staged[schema_name] = [] if isinstance(value, list) else {}  # stand-in, replaced below
                continue
            if prop.plain and isinstance(value, pulumi.Output):
                # Plain values decide which resources are declared: an unknown or secret one cannot.
                raise InputPropertyError(path, f"{path}: {PLAIN_OUTPUT}")
            if prop.items is not None and prop.items.plain and not prop.items.ref and isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, pulumi.Output):
                        raise InputPropertyError(f"{path}[{index}]", f"{path}[{index}]: {PLAIN_OUTPUT}")
            converted = _integers(value, prop, path)
            if isinstance(converted, pulumi.Output) and prop.type == PropertyType.INTEGER:
                resolved_later[mapping[schema_name]] = converted
                converted = 0  # stand-in for the SDK's int(), which an Output would fail; replaced below
            staged[schema_name] = converted
        mapped = super().map_input_properties(staged, properties, mapping, component_name, property_path)
        return {**mapped, **resolved_later}

    def package_schema(self) -> dict[str, Any]:
        """The schema this provider serves (GetSchema), as a dict."""
        assert self.schema is not None  # set in __init__
        return json.loads(self.schema)
