"""benchmarks/program_scale.py: the Docker Hub case's medians, ratios and verdict (no wall-clock assertions), and
that both children declare the same repositories with the same inputs (the comparison is fair)."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from benchmarks import program_scale
from benchmarks.program_scale import CaseSummary, ProcessRun, hub_report, summarise


def test_summary_is_the_median_of_each_measure_over_the_rounds():
    runs = [ProcessRun(9.0, 8.0, 300 * 1024), ProcessRun(3.0, 2.0, 200 * 1024), ProcessRun(4.0, 3.5, 210 * 1024)]
    assert summarise(runs) == CaseSummary(seconds=4.0, evaluation_seconds=3.5, maxrss_mib=210.0, rounds=3)


def test_no_runs_is_an_error_not_a_zero():
    with pytest.raises(ValueError, match="no runs"):
        summarise([])


def test_report_prints_each_side_the_load_and_the_ratios_against_the_targets():
    ours = CaseSummary(seconds=6.8, evaluation_seconds=5.0, maxrss_mib=285.0, rounds=5)
    bare = CaseSummary(seconds=3.5, evaluation_seconds=2.5, maxrss_mib=199.0, rounds=5)
    lines = hub_report(2000, ours, bare, [9.5, 9.0, 8.7, 9.9, 9.1, 8.8])
    assert lines[0] == (
        "hub ours: 2000 repositories, whole process 6.80 s (evaluation 5.00 s), peak RSS 285 MiB; medians of 5"
    )
    assert lines[1].startswith("hub bare: 2000 repositories, whole process 3.50 s")
    assert lines[2] == "load average: 9.50 / 9.00 / 8.70 / 9.90 / 9.10 / 8.80"
    assert lines[-1] == (
        "hub ratio ours/bare: time 1.94x (target <= 1.3x), peak RSS 1.43x (target <= 1.2x): OVER target"
    )


@pytest.mark.parametrize(
    ("ours_seconds", "ours_mib", "verdict"),
    [(3.5 * 1.3, 199 * 1.2, "within"), (3.5 * 1.31, 199.0, "OVER"), (3.5, 199 * 1.21, "OVER")],
)
def test_the_verdict_needs_both_targets(ours_seconds: float, ours_mib: float, verdict: str):
    bare = CaseSummary(seconds=3.5, evaluation_seconds=2.5, maxrss_mib=199.0, rounds=3)
    ours = CaseSummary(seconds=ours_seconds, evaluation_seconds=2.5, maxrss_mib=ours_mib, rounds=3)
    assert hub_report(10, ours, bare, [1.0])[-1].endswith(f": {verdict} target")


class Recording(program_scale.HubMocks):
    def __init__(self) -> None:
        self.declared: dict[str, tuple[str, dict[str, Any]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.declared[args.name] = (args.typ, dict(args.inputs))
        return super().new_resource(args)


def _run(which: str, count: int, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], Recording]:
    mocks = Recording()
    monkeypatch.setattr(program_scale, "HubMocks", lambda: mocks)
    result = program_scale.run_hub_child(which, count)
    return result, mocks


def test_ours_and_bare_declare_the_same_repositories_with_the_same_inputs(monkeypatch: pytest.MonkeyPatch):
    ours, ours_mocks = _run("ours", 3, monkeypatch)
    bare, bare_mocks = _run("bare", 3, monkeypatch)
    assert ours["repositories"] == bare["repositories"] == 3
    repositories = {name: decl for name, decl in ours_mocks.declared.items() if decl[0].endswith(":Repository")}
    assert repositories == bare_mocks.declared
    assert sorted(repositories) == [f"dockerhub-repo-acmecorp-service-{i}" for i in range(3)]
    assert json.loads(json.dumps(ours))["maxrss_kib"] > 0
