"""What a config declares, as the engine would match it against state: the URN (with the components' aliases
applied) and the inputs of every resource. The refactoring tests compare it with snapshots taken before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.pulumi_runtime import SecretKeepingMonitor, run_program
from tests.support.recording_mocks import RecordingMocks

STACK = "pulumi:pulumi:Stack"
SNAPSHOTS = Path(__file__).with_name("snapshots")


class AliasRecordingMonitor(SecretKeepingMonitor):
    """The mock monitor, also recording each registration's parent and the types of its aliases."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, tuple[str, str, str, list[str]]] = {}

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        alias_types = [alias.spec.type for alias in request.aliases if alias.HasField("spec") and alias.spec.type]
        self.registrations[urn] = (request.type, request.name, request.parent, alias_types)
        return super().RegisterResource(request)

    def state_urn(self, urn: str) -> str:
        """The URN the engine finds in state from before the aliases: each type in the parent chain as its alias
        names it (an alias of a parent is one of its children's too)."""
        typ, name, parent, alias_types = self.registrations[urn]
        old_type = alias_types[0] if alias_types else typ
        stack, project = urn.removeprefix("urn:pulumi:").split("::")[:2]
        # The engine's URNs of the stack's children do not name the stack (the mock monitor's sometimes do).
        if not parent or parent not in self.registrations or self.registrations[parent][0] == STACK:
            return f"urn:pulumi:{stack}::{project}::{old_type}::{name}"
        parent_type = self.state_urn(parent).split("::")[2]
        return f"urn:pulumi:{stack}::{project}::{parent_type}${old_type}::{name}"


class SnapshotMocks(RecordingMocks):
    def __init__(self) -> None:
        super().__init__()
        self.recorder = AliasRecordingMonitor(self)

    def monitor(self) -> SecretKeepingMonitor:
        return self.recorder


def declared(section: str, config: dict[str, Any], stack: str, secret: bool = False) -> dict[str, dict[str, Any]]:
    """State URN -> inputs (as the provider receives them, secrets still wrapped) of every resource that the
    `registries:<section>` config declares."""
    key = f"registries:{section}"
    mocks = SnapshotMocks()
    run_program(mocks, stack=stack, config={key: json.dumps(config)}, secret_keys=[key] if secret else [])
    inputs = {(r.typ, r.name): r.inputs for r in mocks.resources}
    out: dict[str, dict[str, Any]] = {}
    for urn, (typ, name, _, _) in mocks.recorder.registrations.items():
        if typ == STACK:
            continue
        # A dynamic resource's pickled provider is providers/dockerhub's business (its import path is pinned).
        out[mocks.recorder.state_urn(urn)] = {k: v for k, v in inputs[(typ, name)].items() if k != "__provider"}
    return out


def component_registration(section: str, config: dict[str, Any], stack: str, name: str) -> tuple[str, list[str]]:
    """(type, alias types) of the component named `name` that the config declares."""
    mocks = SnapshotMocks()
    key = f"registries:{section}"
    run_program(mocks, stack=stack, config={key: json.dumps(config)}, secret_keys=[key])
    (component,) = [r for r in mocks.recorder.registrations.values() if r[1] == name]
    return component[0], component[3]


def write_snapshot(path: Path, section: str, cases: list[dict[str, Any]]) -> None:
    """Run once, before a refactoring. Never again: a new URN or input in it is a change to users' stacks."""
    out = [
        {**case, "declared": declared(section, case["config"], case["stack"], case.get("secret", False))}
        for case in cases
    ]
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")


def assert_declares_the_snapshot(path: Path, section: str) -> None:
    cases = json.loads(path.read_text())
    assert cases
    for case in cases:
        now = declared(section, case["config"], case["stack"], case.get("secret", False))
        assert sorted(now) == sorted(case["declared"]), case["stack"]
        for urn, inputs in case["declared"].items():
            assert now[urn] == inputs, urn
