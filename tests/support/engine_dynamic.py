"""Pulumi dynamic resources (ours: Docker Hub), applied by calling the real provider code.

The provider object is unpickled from the `__provider` input exactly as Pulumi's dynamic provider
host does, then its check/create/diff/update/read/delete are called against the configured API.
"""

from __future__ import annotations

import base64
from typing import Any

import dill
from pulumi.dynamic import ResourceProvider

from tests.support.local_engine import Applied, Backend
from tests.support.pulumi_runtime import unwrap, wrap_secret

# The outputs each resource marks secret with additional_secret_outputs (ignored by the mock monitor).
SECRET_OUTPUTS = {
    "pulumi-python:dynamic/dockerhub:AccessToken": ("token",),
    "pulumi-python:dynamic/dockerhub:OrgAccessToken": ("token",),
    "pulumi-python:dynamic/dockerhub:Webhook": ("hookUrl",),
}


def _provider(serialized: str) -> ResourceProvider:
    return dill.loads(base64.b64decode(serialized))  # noqa: S301 - the program's own provider


def _wrap(typ: str, outs: dict[str, Any]) -> dict[str, Any]:
    return {k: wrap_secret(v) if k in SECRET_OUTPUTS.get(typ, ()) and v is not None else v for k, v in outs.items()}


def _props(inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in inputs.items() if k != "__provider"}


def _create(typ: str, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    provider = _provider(inputs["__provider"])
    checked = provider.check({}, _props(inputs))
    if checked.failures:
        raise ValueError("; ".join(f"{f.property}: {f.reason}" for f in checked.failures))
    created = provider.create(checked.inputs or _props(inputs))
    return str(created.id), _wrap(typ, dict(created.outs or {}))


def _plain_outputs(applied: Applied) -> dict[str, Any]:
    return unwrap(applied.outputs)


def _exists(applied: Applied) -> bool:
    provider = _provider(applied.raw_provider)
    return bool(provider.read(applied.ident, _plain_outputs(applied)).id)


def _update(applied: Applied, news: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    provider = _provider(news["__provider"])
    olds = _plain_outputs(applied)
    diff = provider.diff(applied.ident, olds, _props(news))
    if diff.replaces:
        return None
    updated = provider.update(applied.ident, olds, _props(news))
    return applied.ident, _wrap(applied.typ, {**olds, **dict(updated.outs or {})})


def _delete(applied: Applied) -> None:
    _provider(applied.raw_provider).delete(applied.ident, _plain_outputs(applied))


def dynamic_backend() -> Backend:
    return Backend(("pulumi-python:dynamic/",), _create, exists=_exists, delete=_delete, update=_update)
