"""Pulumi.yaml documents every config key, generated from the models."""

from __future__ import annotations

from pathlib import Path

import yaml

from registries.config.base import CamelModel
from registries.config.reference import reference_lines, render_reference

ROOT = Path(__file__).resolve().parents[2]


def test_config_reference_in_pulumi_yaml_is_current():
    text = (ROOT / "Pulumi.yaml").read_text()
    assert render_reference() in text, "run: python -m registries.config.reference --write"


def test_project_settings():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "registries"
    assert project["runtime"]["name"] == "python"
    assert project["stackConfigDir"] == "stacks"


def _undocumented_keys(lines: list[str]) -> list[str]:
    """Keys of a rendered reference whose line is not followed by a description line."""
    keys = [i for i, line in enumerate(lines) if line.startswith("#   registries:")]
    return [lines[i] for i in keys if i + 1 >= len(lines) or not lines[i + 1].startswith("#       ")]


def test_every_key_has_a_description():
    lines = render_reference().splitlines()
    assert len([line for line in lines if line.startswith("#   registries:")]) > 60
    assert _undocumented_keys(lines) == []


def test_an_undocumented_key_is_caught():
    class Undocumented(CamelModel):
        documented: int = 1
        """Has a description."""
        bare_key: int = 2

    lines = reference_lines(Undocumented, "registries:probe")
    assert _undocumented_keys(lines) == ["#   registries:probe.bareKey: int; default 2."]
