"""The library does not depend on the stack config: no module under components/ imports registries.*."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def registries_imports(path: Path) -> list[str]:
    """`import registries...` / `from registries... import` statements in a file, as 'line: module'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        found += [f"{node.lineno}: {m}" for m in modules if m == "registries" or m.startswith("registries.")]
    return found


def test_no_module_under_components_imports_registries():
    files = sorted((ROOT / "components").rglob("*.py"))
    assert len(files) > 10  # the walk found the library
    offenders = {str(p.relative_to(ROOT)): hits for p in files if (hits := registries_imports(p))}
    assert offenders == {}


def test_the_check_sees_both_import_forms_even_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nimport registries.config as s\n"
        "def f():\n    from registries.mapping.selfhosted import selfhosted_args\n"
        "from components.selfhosted import SelfHostedRegistry\n"
    )
    assert registries_imports(sample) == ["2: registries.config", "4: registries.mapping.selfhosted"]
