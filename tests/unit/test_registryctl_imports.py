"""registryctl's modules import one way: the CLI imports the command modules, they import the shared helpers, and
nothing imports back. Every import counts, the late ones inside functions included (they run, just later); only
`if TYPE_CHECKING:` imports are left out (they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.unit.conftest import ROOT

PACKAGE = "registryctl"
PACKAGE_DIR = ROOT / PACKAGE


def _module_name(path: Path) -> str:
    return f"{PACKAGE}.{path.stem}" if path.stem != "__init__" else PACKAGE


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:`."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def _imported(node: ast.Import | ast.ImportFrom, module: str, modules: set[str]) -> set[str]:
    """The registryctl modules one import statement loads."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in modules}
    base = node.module or ""
    if node.level:  # relative: from . import x, from .x import y
        package = module.rsplit(".", node.level)[0] if module != PACKAGE else PACKAGE
        base = f"{package}.{base}" if base else package
    found = {base} if base in modules else set()
    found |= {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules}
    return found


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """module -> the package's modules it imports (at import time or in a function)."""
    paths = sorted(package_dir.glob("*.py"))
    modules = {_module_name(path) for path in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        module = _module_name(path)
        tree = ast.parse(path.read_text(), filename=str(path))
        skipped = _type_checking_only(tree)
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in skipped:
                edges |= _imported(node, module, modules)
        edges.discard(module)
        edges.discard(PACKAGE)  # the package's __init__ is empty: importing it loads nothing
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)) is not None:
            return cycle
    return None


def test_the_cycle_finder_sees_a_late_import_back(tmp_path: Path):
    package = tmp_path / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "cli.py").write_text("from registryctl.gc import cmd_gc\n")
    (package / "gc.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from registryctl import cli\n"
        "def cmd_gc():\n    from registryctl import cli\n"
    )
    assert find_cycle(import_graph(package)) == ["registryctl.cli", "registryctl.gc", "registryctl.cli"]
    (package / "gc.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import cli\n")
    assert find_cycle(import_graph(package)) is None


def test_registryctl_has_no_import_cycle():
    graph = import_graph()
    assert graph.get("registryctl.cli")  # the graph is read (the CLI imports its commands)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in registryctl: " + " -> ".join(cycle or [])


def test_only_the_entry_points_import_the_cli():
    """The CLI is the top: the commands get what it decides (the project directory, verify's probe) as data. Above
    it only `python -m registryctl` and the docs generator (which reads its command table)."""
    importers = sorted(module for module, targets in import_graph().items() if "registryctl.cli" in targets)
    assert importers == ["registryctl.__main__", "registryctl.reference_docs"]


PREAMBLE_CALLS = ("automation.open_stack", "automation.stack_spec")
"""Selecting the stack and reading its validated config: what each command on a deployed stack starts with."""


def preamble_calls(package_dir: Path = PACKAGE_DIR) -> dict[str, list[str]]:
    """module -> the preamble calls it makes itself: automation.open_stack/stack_spec, and reading the outputs of
    an Automation API stack (`<stack>.outputs()`)."""
    found: dict[str, list[str]] = {}
    for path in sorted(package_dir.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            called = ast.unparse(node.func)
            if called in PREAMBLE_CALLS or (node.func.attr == "outputs" and not node.args and not node.keywords):
                found.setdefault(_module_name(path), []).append(f"{called}() at line {node.lineno}")
    return found


def test_the_stack_preamble_lives_in_stack_outputs_only():
    """A command opens its stack, reads its config and its outputs through registryctl.stack_outputs, so the
    project directory, the backend and the output shape are decided once."""
    found = preamble_calls()
    assert found.pop("registryctl.stack_outputs"), "stack_outputs makes the calls"
    assert found == {}, f"the stack preamble written again outside registryctl/stack_outputs.py: {found}"
