"""Users' state keeps working across the DockerHub library refactoring (issue 10): the Docker Hub configs declare
the same resources (URNs, once the component's aliases are applied as the engine applies them) with the same
inputs as before it. The snapshot was taken from the code before the refactoring; never regenerate it to make
this test pass: a difference here is a replacement or a lost resource in every existing Hub stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime.mocks import MockMonitor

from tests.support.pulumi_runtime import run_program
from tests.support.recording_mocks import RecordingMocks
from tests.unit.conftest import ROOT

SNAPSHOT = Path(__file__).with_name("snapshots") / "dockerhub_urns.json"


class AliasRecordingMonitor(MockMonitor):
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
        if not parent or parent not in self.registrations:
            return f"urn:pulumi:{stack}::{project}::{old_type}::{name}"
        parent_type = self.state_urn(parent).split("::")[2]
        return f"urn:pulumi:{stack}::{project}::{parent_type}${old_type}::{name}"


class SnapshotMocks(RecordingMocks):
    def __init__(self) -> None:
        super().__init__()
        self.recorder = AliasRecordingMonitor(self)

    def monitor(self) -> MockMonitor:
        return self.recorder


def declared(config: dict[str, Any], stack: str) -> dict[str, dict[str, Any]]:
    """State URN -> inputs (as the provider receives them, secrets still wrapped) of every resource declared."""
    mocks = SnapshotMocks()
    run_program(mocks, stack=stack, config={"registries:dockerHub": json.dumps(config)})
    inputs = {(r.typ, r.name): r.inputs for r in mocks.resources}
    out: dict[str, dict[str, Any]] = {}
    for urn, (typ, name, _, _) in mocks.recorder.registrations.items():
        if typ == "pulumi:pulumi:Stack":
            continue
        # The pickled provider is providers/dockerhub's business (its import path is pinned), not the component's.
        out[mocks.recorder.state_urn(urn)] = {k: v for k, v in inputs[(typ, name)].items() if k != "__provider"}
    return out


def snapshot_cases() -> list[dict[str, Any]]:
    """The Hub stack file's config and the unit tests' full config (webhooks, org tokens, a second namespace)."""
    from tests.unit.test_dockerhub_component import HUB

    hub_stack = yaml.safe_load((ROOT / "stacks" / "Pulumi.hub.yaml").read_text())["config"]["registries:dockerHub"]
    return [
        {"stack": "hub", "config": hub_stack},
        {"stack": "prod", "config": HUB},
    ]


def write_snapshot() -> None:
    """Taken once, before the refactoring (python -c 'import tests.unit.test_dockerhub_urns as t; t.write_snapshot()').
    Never again: a new URN or input in the snapshot is a change to users' stacks."""
    cases = [{**case, "declared": declared(case["config"], case["stack"])} for case in snapshot_cases()]
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(json.dumps(cases, indent=2, sort_keys=True) + "\n")


def test_hub_configs_declare_the_urns_and_inputs_of_before_the_refactoring():
    cases = json.loads(SNAPSHOT.read_text())
    assert len(cases) == 2
    for case in cases:
        now = declared(case["config"], case["stack"])
        assert sorted(now) == sorted(case["declared"]), case["stack"]
        for urn, inputs in case["declared"].items():
            assert now[urn] == inputs, urn
