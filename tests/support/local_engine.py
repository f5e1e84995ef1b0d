"""The local engine: Pulumi mocks that apply each declared resource to a real local backend.

It keeps state between runs like the Pulumi engine does: a resource whose inputs did not change
is left alone (same id, same outputs); one whose inputs changed is replaced; one no longer
declared is deleted (volumes are kept, as the program marks them retain_on_delete, an option
the SDK's mock monitor does not pass on). An unknown resource type fails the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi

from tests.support.engine_random import apply_random
from tests.support.engine_tls import apply_tls
from tests.support.pulumi_runtime import is_secret, unwrap, wrap_secret

Handler = Callable[[str, str, dict[str, Any]], tuple[str, dict[str, Any]]]
RETAINED_TYPES = frozenset({"docker:index/volume:Volume"})


@dataclass
class Applied:
    typ: str
    name: str
    ident: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    raw_inputs: dict[str, Any] = field(default_factory=dict)
    """Inputs as received, secret ones still wrapped (what a provider would log or store)."""

    @property
    def raw_provider(self) -> str:
        """The serialized dynamic provider of this resource."""
        return str(unwrap(self.raw_inputs["__provider"]))


@dataclass
class Backend:
    """Something that can create, check, update and delete the resources of some type prefixes."""

    prefixes: tuple[str, ...]
    create: Handler
    exists: Callable[[Applied], bool] = lambda applied: True
    delete: Callable[[Applied], None] = lambda applied: None
    update: Callable[[Applied, dict[str, Any]], tuple[str, dict[str, Any]] | None] = lambda applied, news: None
    """In-place update; None means the change needs a replacement."""


class LocalEngine(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.state: dict[tuple[str, str], Applied] = {}
        self.backends: list[Backend] = [
            Backend(("random:",), lambda typ, name, inputs: apply_random(typ, inputs)),
            Backend(("tls:",), lambda typ, name, inputs: apply_tls(typ, inputs)),
        ]
        self.operations: list[tuple[str, str, str]] = []
        self._registered: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def add_backend(self, backend: Backend) -> None:
        self.backends.append(backend)

    def _backend(self, typ: str) -> Backend:
        for backend in self.backends:
            if typ.startswith(backend.prefixes):
                return backend
        raise NotImplementedError(f"local engine: no backend applies resources of type {typ}")

    # -- Mocks ----------------------------------------------------------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if not args.custom:
            return "", {}
        with self._lock:
            return self._apply(args)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise NotImplementedError(f"local engine: no function {args.token}")

    def _apply(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        key = (args.typ, args.name)
        self._registered.add(key)
        raw = dict(args.inputs)
        plain = unwrap({k: v for k, v in raw.items() if k != "__provider"})
        backend = self._backend(args.typ)
        prior = self.state.get(key)
        news = {**plain, "__provider": unwrap(raw.get("__provider"))}
        exists = prior is not None and backend.exists(prior)
        if prior is not None and exists and prior.inputs == plain:
            self.operations.append(("same", args.typ, args.name))
            return prior.ident, prior.outputs
        updated = backend.update(prior, news) if prior is not None and exists else None
        if prior is not None and updated is not None:
            self.operations.append(("update", args.typ, args.name))
            ident, outs = updated
        else:
            if prior is not None:
                # Replacements delete first: the objects here have fixed names.
                backend.delete(prior)
                self.operations.append(("replace", args.typ, args.name))
            else:
                self.operations.append(("create", args.typ, args.name))
            ident, outs = backend.create(args.typ, args.name, news)
        outs.pop("__provider", None)
        # An output that echoes a secret input stays secret, as the engine does for real providers.
        for k, v in raw.items():
            if is_secret(v) and k in outs and not is_secret(outs[k]):
                outs[k] = wrap_secret(outs[k])
        self.state[key] = Applied(args.typ, args.name, ident, plain, outs, raw)
        return ident, outs

    # -- runs -----------------------------------------------------------------------------------
    def begin_run(self) -> None:
        self._registered = set()
        self.operations = []

    def end_run(self) -> None:
        """Delete what the last run no longer declared, newest first (volumes are retained)."""
        for key in reversed(list(self.state)):
            if key in self._registered:
                continue
            applied = self.state.pop(key)
            if applied.typ not in RETAINED_TYPES:
                self._backend(applied.typ).delete(applied)
            self.operations.append(("delete", applied.typ, applied.name))

    def changed(self) -> list[tuple[str, str, str]]:
        return [op for op in self.operations if op[0] != "same"]

    def find(self, typ: str, name: str) -> Applied:
        return self.state[(typ, name)]
