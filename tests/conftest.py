"""Shared pytest options."""

from __future__ import annotations

# Imported (and so assertion-rewritten by pytest) at start-up, not lazily by its plugin at session end: CPython
# 3.11.7's AST converter intermittently fails ("SystemError: AST constructor recursion depth mismatch",
# python/cpython#106905) when pytest parses a module late in a session that ran Pulumi programs in threads.
import hypothesis  # noqa: F401
import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stack-file",
        action="store",
        default="stacks/Pulumi.local.yaml",
        help="stack file the end-to-end scenarios deploy (default: stacks/Pulumi.local.yaml)",
    )
