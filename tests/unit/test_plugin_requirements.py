"""plugin/requirements.txt is all the language host installs into the plugin's virtualenv before it runs
`venv/bin/python plugin/`: every distribution the plugin imports when it starts must be in it.

Found on the real engine (tests/engine/test_component_provider.py): with only `-r ../requirements.txt`, `pulumi package
add <checkout>/plugin` installed the base requirements and the plugin died at start with `ModuleNotFoundError: No
module named 'pulumi_azure_native'` (components/acr.py), so no schema, no SDK and no component for anyone. The unit
tier did not see it: its plugin virtualenv reuses this venv, which holds every extra."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_REQUIREMENTS = ROOT / "plugin" / "requirements.txt"
OWN_DISTRIBUTION = "registries"

IMPORTED = """
import json, sys
sys.path[:0] = [sys.argv[1]]
before = set(sys.modules)
import plugin.provider  # what plugin/__main__.py imports before it serves
files = (getattr(sys.modules[name], "__file__", None) for name in set(sys.modules) - before)
print(json.dumps(sorted({file for file in files if file})))
"""


def listed(requirements: Path) -> set[str]:
    """Distribution names a requirements file names, following `-r` includes as pip does."""
    names: set[str] = set()
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if include := re.match(r"^(?:-r|--requirement)\s+(\S+)$", line):
            names |= listed((requirements.parent / include.group(1)).resolve())
        else:
            names.add(canonicalize_name(Requirement(line).name))
    return names


def installed_files() -> dict[str, set[str]]:
    """The Python files each installed distribution holds (its RECORD), by distribution name."""
    owned: dict[str, set[str]] = {}
    for dist in importlib.metadata.distributions():
        paths = (os.path.normpath(str(dist.locate_file(f))) for f in dist.files or [] if f.suffix in {".py", ".so"})
        owned.setdefault(canonicalize_name(dist.metadata["Name"]), set()).update(paths)
    return owned


def closure(names: set[str]) -> set[str]:
    """The distributions pip installs for `names`: them and their dependencies (as installed here), recursively."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in importlib.metadata.requires(name) or []:
            parsed = Requirement(requirement)
            if parsed.marker is None or parsed.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(parsed.name))
    return seen


def test_plugin_requirements_install_every_distribution_the_plugin_imports_at_start() -> None:
    started = subprocess.run(
        [sys.executable, "-c", IMPORTED, str(ROOT)], capture_output=True, text=True, timeout=300, check=True
    )
    files = {os.path.normpath(file) for file in json.loads(started.stdout)}
    # This repository's own distribution (`pip install -e .` here) is not needed: plugin/__main__.py imports
    # `components` from the checkout the plugin directory sits in.
    needed = {name for name, owned in installed_files().items() if owned & files} - {OWN_DISTRIBUTION}
    assert "pulumi" in needed  # the scan sees third-party imports at all
    installed = closure(listed(PLUGIN_REQUIREMENTS))
    missing = sorted(needed - installed)
    assert missing == [], (
        f"plugin/requirements.txt (with its -r includes) does not install {missing}, which the plugin imports at "
        "start: the language host's virtualenv would lack them"
    )
