"""What the installed Pulumi SDK package of a provider says about it: plugin version, resource types, input and
output names, and the outputs its schema marks secret. The stand-ins serve exactly these."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import json
import re
import threading
from importlib import resources
from typing import Any

from pulumi import _types

SdkResource = tuple[frozenset[str], frozenset[str], frozenset[str]]
_IMPORTS = threading.Lock()
"""The engine calls a plugin from many threads at once; the SDKs' lazily loaded modules must be imported by one."""


def module(package: str) -> str:
    """The SDK's Python package of a Pulumi package: pulumi_azure_native for azure-native."""
    return "pulumi_" + package.replace("-", "_")


def plugin_version(package: str) -> str:
    """The plugin version the SDK requests (its pulumi-plugin.json, as `pulumi plugin install` reads it)."""
    document = json.loads(resources.files(module(package)).joinpath("pulumi-plugin.json").read_text())
    return str(document["version"])


@functools.cache
def resource_classes(package: str) -> dict[str, tuple[str, str]]:
    """type token -> (module, class name), from the SDK's resource module registration."""
    spec = importlib.util.find_spec(module(package))
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"{module(package)} is not installed: the stand-in serves what its SDK declares")
    with open(spec.origin, encoding="utf-8") as handle:
        match = re.search(r'resource_modules="""(.*?)"""', handle.read(), re.S)
    assert match is not None, f"{module(package)} registers no resource modules"
    out: dict[str, tuple[str, str]] = {}
    for registration in json.loads(match.group(1)):
        dotted = registration["fqn"]
        for token, name in registration["classes"].items():
            out[token] = (dotted, name)
    return out


def describe(package: str, token: str) -> SdkResource:
    """(input names, output names, secret output names) of one resource type, as its SDK class declares them."""
    with _IMPORTS:
        return _describe(package, token)


@functools.cache
def _describe(package: str, token: str) -> SdkResource:
    dotted, name = resource_classes(package)[token]
    source_module = importlib.import_module(dotted)
    cls = getattr(source_module, name)
    outputs = frozenset(
        str(getattr(value.fget, "_pulumi_name", None) or key)
        for key, value in vars(cls).items()
        if isinstance(value, property)
    )
    args = getattr(source_module, f"{name}Args", None)
    inputs = frozenset(_types.input_type_py_to_pulumi_names(args).values()) if args is not None else frozenset()
    source = inspect.getsource(cls)
    match = re.search(r"additional_secret_outputs=\[([^\]]*)\]", source)
    secret = frozenset(re.findall(r'"([^"]+)"', match.group(1))) if match else frozenset()
    return inputs, outputs, secret


def schema(package: str, version: str, served: frozenset[str]) -> dict[str, Any]:
    """A package schema naming every resource type the stand-in serves with its input and output properties (any
    type): enough for Pulumi YAML to resolve tokens and property references."""
    any_type = {"$ref": "pulumi.json#/Any"}
    types: dict[str, Any] = {}
    for token in sorted(served):
        inputs, outputs, secret = describe(package, token)
        types[token] = {
            "inputProperties": {name: any_type for name in sorted(inputs)},
            "properties": {
                name: {**any_type, **({"secret": True} if name in secret else {})} for name in sorted(outputs | inputs)
            },
        }
    return {"name": package, "version": version, "resources": types}
