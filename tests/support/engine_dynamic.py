"""Pulumi dynamic resources (ours: Docker Hub), applied by calling the real provider code.

Each serialized provider (the `__provider` input) is unpickled once per operation and configured with
the stack's config, exactly as Pulumi's dynamic provider host does (pulumi/dynamic/__main__.py:
get_provider); then its check / diff / create / update / read / delete are called with what the host
would pass: old *outputs* and new inputs, secrets unwrapped (the host does not accept secrets), and
`pulumi.output.UNKNOWN` where a preview does not know a value yet.
"""

from __future__ import annotations

import base64
from typing import Any

import dill
from pulumi.dynamic import Config, ConfigureRequest, ResourceProvider

from tests.support.local_engine import PROVIDER_KEY, Applied, Backend, Diff, Read, input_props
from tests.support.pulumi_runtime import unwrap


class DynamicProviders:
    """The dynamic provider host of one engine: configured provider instances, per serialized provider."""

    def __init__(self) -> None:
        self.config: dict[str, str] = {}
        self.project = ""
        self._instances: dict[str, ResourceProvider] = {}

    def configure(self, config: dict[str, str], project: str) -> None:
        """A new operation: a new host process, with the stack's config (secrets unwrapped, qualified keys)."""
        self.config, self.project = dict(config), project
        self._instances = {}

    def provider(self, serialized: str) -> ResourceProvider:
        instance = self._instances.get(serialized)
        if instance is None:
            instance = dill.loads(base64.b64decode(serialized))  # noqa: S301 - the program's own provider
            instance.configure(ConfigureRequest(config=Config(raw_config=dict(self.config), project_name=self.project)))
            self._instances[serialized] = instance
        return instance

    @staticmethod
    def _olds(applied: Applied) -> dict[str, Any]:
        """The old outputs, as the host receives them (the provider string included)."""
        return {**unwrap(applied.outputs), PROVIDER_KEY: applied.raw_provider}

    def check(self, old: Applied | None, news: dict[str, Any]) -> dict[str, Any]:
        provider = self.provider(news[PROVIDER_KEY])
        olds = {**old.inputs, PROVIDER_KEY: old.raw_provider} if old is not None else {}
        checked = provider.check(olds, dict(news))
        if checked.failures:
            raise ValueError("; ".join(f"{f.property}: {f.reason}" for f in checked.failures))
        inputs = dict(checked.inputs) if checked.inputs is not None else dict(news)
        inputs[PROVIDER_KEY] = news[PROVIDER_KEY]
        return inputs

    def diff(self, applied: Applied, news: dict[str, Any]) -> Diff:
        provider = self.provider(news[PROVIDER_KEY])
        result = provider.diff(applied.ident, self._olds(applied), dict(news))
        if result.changes is None:  # DIFF_UNKNOWN: the engine compares old and new inputs itself
            changed = sorted(
                k for k in set(applied.inputs) | set(input_props(news)) if applied.inputs.get(k) != news.get(k)
            )
            return Diff(bool(changed), tuple(result.replaces or ()), bool(result.delete_before_replace), tuple(changed))
        return Diff(bool(result.changes), tuple(result.replaces or ()), bool(result.delete_before_replace))

    def create(self, _typ: str, _name: str, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        created = self.provider(news[PROVIDER_KEY]).create(dict(news))
        return str(created.id), dict(created.outs or {})

    def update(self, applied: Applied, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        provider = self.provider(news[PROVIDER_KEY])
        updated = provider.update(applied.ident, self._olds(applied), dict(news))
        # The host returns the provider's outputs as they are: keys it leaves out are gone.
        return applied.ident, dict(updated.outs or {})

    def read(self, applied: Applied) -> Read | None:
        result = self.provider(applied.raw_provider).read(applied.ident, self._olds(applied))
        if not result.id:
            return None
        return Read(str(result.id), dict(result.outs or {}), dict(result.inputs) if result.inputs is not None else None)

    def delete(self, applied: Applied) -> None:
        self.provider(applied.raw_provider).delete(applied.ident, self._olds(applied))

    def backend(self) -> Backend:
        return Backend(
            ("pulumi-python:dynamic/",),
            self.create,
            delete=self.delete,
            update=self.update,
            read=self.read,
            diff=self.diff,
            check=self.check,
            configure=self.configure,
        )


def dynamic_backend() -> Backend:
    return DynamicProviders().backend()
