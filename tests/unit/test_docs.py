"""README.md is a front page and docs/ holds the rest; the parts that restate code are generated and checked
here, so they cannot drift: each kind's config keys (from the schema), registryctl's commands and exit codes,
the stack outputs the program exports, and every relative link."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from registryctl.cli import parser
from registryctl.errors import EXIT_CODES
from registryctl.reference_docs import DOCS, KIND_PAGES, blocks, render

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PAGES = sorted(DOCS.glob("*.md"))


def test_the_readme_is_a_front_page() -> None:
    assert len(README.splitlines()) <= 250
    start = README.index("## Deploy the local stack")
    assert "registryctl up -s local" in README[start : start + 400]  # the deploy command comes first
    assert "bash scripts/test.sh" in README


@pytest.mark.parametrize("page", sorted(blocks()))
def test_generated_blocks_match_the_code(page: str) -> None:
    text = (DOCS / page).read_text()
    assert render(text, blocks()[page]) == text, f"run `python -m registryctl.reference_docs --write` ({page})"


@pytest.mark.parametrize("page", sorted(KIND_PAGES))
def test_each_kind_page_says_what_to_set_what_you_get_what_is_proven_and_the_limits(page: str) -> None:
    text = (DOCS / page).read_text()
    for part in ("| Config |", "| Outputs |", "| Proven here |", "| Limits |", "## Config keys", "## Limits"):
        assert part in text, (page, part)
    assert f"(docs/{page})" in README  # linked from the kinds table


def _links(path: Path) -> list[str]:
    return [link for link in re.findall(r"\]\(([^)#\s]+)[^)]*\)", path.read_text()) if "://" not in link]


@pytest.mark.parametrize("path", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_every_relative_link_resolves(path: Path) -> None:
    for link in _links(path):
        assert (path.parent / link).exists(), f"{path.name}: {link}"


def test_every_output_the_program_exports_is_documented() -> None:
    tree = ast.parse((ROOT / "registries" / "program.py").read_text())
    keys = {
        key.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and re.fullmatch(r"[a-z][A-Za-z]+", key.value)
    }
    documented = README + "".join(page.read_text() for page in PAGES)
    assert len(keys) > 20
    assert not [key for key in sorted(keys) if f"`{key}" not in documented and f".{key}`" not in documented]


def test_the_readme_exit_codes_and_commands_are_registryctls() -> None:
    table = re.findall(r"^\| (\d+) \| ", README, flags=re.M)
    assert [int(code) for code in table] == list(EXIT_CODES)
    actions = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command in set(re.findall(r"registryctl ([a-z]+)", README)):
        assert command in actions, command
