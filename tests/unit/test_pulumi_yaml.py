"""Pulumi.yaml documents every config key, generated from the models."""

from __future__ import annotations

from pathlib import Path

import yaml

from schema.reference import render_reference

ROOT = Path(__file__).resolve().parents[2]


def test_config_reference_in_pulumi_yaml_is_current():
    text = (ROOT / "Pulumi.yaml").read_text()
    assert render_reference() in text, "run: python -m schema.reference --write"


def test_project_settings():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "registries"
    assert project["runtime"]["name"] == "python"
    assert project["stackConfigDir"] == "stacks"


def test_every_key_has_a_description_and_default():
    lines = render_reference().splitlines()
    keys = [line for line in lines if line.startswith("#   registries:")]
    assert len(keys) > 60
    assert all("; default " in line for line in keys)
