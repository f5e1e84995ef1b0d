"""Shared pytest options."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stack-file",
        action="store",
        default="stacks/Pulumi.local.yaml",
        help="stack file the end-to-end scenarios deploy (default: stacks/Pulumi.local.yaml)",
    )
