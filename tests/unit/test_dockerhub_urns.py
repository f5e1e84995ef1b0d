"""Users' state keeps working across the DockerHub library refactoring (issue 10): the Docker Hub configs declare
the same resources (URNs, once the component's aliases are applied as the engine applies them) with the same
inputs as before it. The snapshot was taken from the code before the refactoring; never regenerate it to make
this test pass: a difference here is a replacement or a lost resource in every existing Hub stack."""

from __future__ import annotations

from typing import Any

import yaml

from tests.unit.conftest import ROOT
from tests.unit.urn_snapshot import SNAPSHOTS, assert_declares_the_snapshot, component_registration, write_snapshot

SNAPSHOT = SNAPSHOTS / "dockerhub_urns.json"


def snapshot_cases() -> list[dict[str, Any]]:
    """The Hub stack file's config and the unit tests' full config (webhooks, org tokens, a second namespace)."""
    from tests.unit.test_dockerhub_component import HUB

    hub_stack = yaml.safe_load((ROOT / "stacks" / "Pulumi.hub.yaml").read_text())["config"]["registries:dockerHub"]
    return [{"stack": "hub", "config": hub_stack, "secret": False}, {"stack": "prod", "config": HUB, "secret": False}]


def take_snapshot() -> None:
    """Taken once, before the refactoring: python -c 'import tests.unit.test_dockerhub_urns as t; t.take_snapshot()'"""
    write_snapshot(SNAPSHOT, "dockerHub", snapshot_cases())


def test_hub_configs_declare_the_urns_and_inputs_of_before_the_refactoring():
    assert_declares_the_snapshot(SNAPSHOT, "dockerHub")


def test_the_component_has_the_package_token_and_its_old_one_as_an_alias():
    typ, aliases = component_registration("dockerHub", snapshot_cases()[0]["config"], "hub", "dockerhub")
    assert typ == "registries:index:DockerHub"
    assert aliases == ["registries:dockerhub:DockerHub"]
