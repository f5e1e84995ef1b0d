"""How `scripts/test.sh` spreads the suite over pytest-xdist workers (tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import unit_of_work

ROOT = Path(__file__).resolve().parents[2]


def test_machine_tiers_share_one_unit_of_work_kube_and_emulators_one_each_every_other_test_its_own() -> None:
    machine = [
        "tests/e2e/test_mirror.py::test_ttl[3.x]",
        "tests/engine/test_readme_local.py::test_readme",
    ]
    assert {unit_of_work(nodeid) for nodeid in machine} == {"machine"}
    kube = ["tests/kube/test_controlplane.py::test_up", "tests/kube/test_kubernetes_apiserver.py::test_x[k8s]"]
    assert {unit_of_work(nodeid) for nodeid in kube} == {"kube"}
    assert unit_of_work("tests/emulators/test_artifact_registry.py::test_dead_letter") == "emulators"
    unit = "tests/unit/test_schema.py::test_one[e2e]"
    assert unit_of_work(unit) == unit
    assert unit_of_work("tests/policy/test_pack.py::test_x") == "tests/policy/test_pack.py::test_x"
    # With pytest's rootdir above the repository, node ids carry the path to it.
    assert unit_of_work("work/main/tests/e2e/test_mirror.py::test_ttl", "work/main/tests/") == "machine"


def test_node_ids_here_are_spelled_from_the_repository_root(request: pytest.FixtureRequest) -> None:
    """What MachineScheduling's default prefix assumes of the runs scripts/test.sh starts (rootdir: pyproject.toml)."""
    assert request.node.nodeid.startswith("tests/unit/test_worker_scheduling.py::")


def test_a_test_outside_the_machine_tiers_that_takes_the_machine_lock_is_refused_at_collection(tmp_path: Path) -> None:
    """It could land on a second worker and wait for ever for the lock the first one holds."""
    probe = tmp_path / "test_lock_probe.py"
    probe.write_text("def test_takes_the_lock(machine_lock: None) -> None:\n    pass\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            "--rootdir",
            str(tmp_path),
            "--collect-only",
            "-q",
            str(probe),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stderr + result.stdout
    assert result.returncode != 0
    assert "test_lock_probe.py::test_takes_the_lock takes the machine lock" in output
    assert "move it to one of tests/{e2e,engine}" in output
