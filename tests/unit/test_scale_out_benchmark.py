"""The pure parts of benchmarks/scale_out_throughput.py: image sizes, ratios and the report (no Docker)."""

from __future__ import annotations

import pytest

from benchmarks.scale_out_throughput import ScaleSample, client_image_sizes, ratios_to_first, report


@pytest.mark.parametrize(
    ("total", "clients", "layer", "expected"),
    [(200, 10, 5, (20, 5)), (20, 10, 5, (2, 2)), (5, 10, 5, (1, 1)), (100, 1, 50, (100, 50))],
)
def test_client_images_add_up_to_the_total_and_layers_fit_in_them(total, clients, layer, expected):
    assert client_image_sizes(total, clients, layer) == expected


def test_ratios_are_to_the_smallest_replica_count():
    assert ratios_to_first({3: 6.0, 1: 8.0, 2: 10.0}) == {1: 1.0, 2: 1.25, 3: 0.75}


def _sample(seconds: float, per_replica: tuple[int, ...]) -> ScaleSample:
    return ScaleSample(seconds, 100.0, 1.0, 2.0, load_balancer_cpu_s=0.5, per_replica=per_replica)


def test_report_prints_medians_ratios_and_marks_one_replica_without_load_balancer():
    results = {
        "push": {1: [_sample(10, (90,)), _sample(20, (100,)), _sample(12, (95,))], 2: [_sample(5, (40, 50))]},
        "pull": {},
    }
    lines = report(results, rounds=3, total_mb=100, clients=10)
    assert "| 1 | push | 8.3 | 5.0-10.0 | 1.00 | 1.00 | (no LB) | 0.00 | 2.00 | 95 |" in lines
    assert "| 2 | push | 20.0 | 20.0-20.0 | 2.40 | 1.00 | 0.50 | 0.00 | 2.00 | 40/50 |" in lines
    assert lines[-1] == "push ratios (median MB/s): 2/1 2.40"
