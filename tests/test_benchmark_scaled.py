"""The scaling sections' pure helpers: a target judged only at the sizes it is stated for,
a pod's Ready condition as the Deployment figure reads it, and the container's stamp."""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks.report import Figure
from benchmarks.scaled import judged, p50_p99_ms, read_stamp, skipped
from benchmarks.workloads import deployment, is_ready


def test_a_target_is_judged_only_where_it_is_stated() -> None:
    fig = judged("<", "s", "p99, N=100", 12.0, "ms", 10.0, True)
    assert (fig.target, fig.met) == ("< 10 ms", False)
    ratio = judged(">", "s", "rate", 3.0, "x", 2.0, True)
    assert (ratio.target, ratio.met) == ("> 2 x", True)
    point = judged("<", "s", "p99, N=10", 12.0, "ms", 10.0, False, note="curve")
    assert point == Figure("s", "p99, N=10", 12.0, "ms", note="curve")


def test_a_skipped_figure_has_no_value_and_says_why() -> None:
    fig = skipped("s", "kubectl", "ms", "no kubectl")
    assert math.isnan(fig.value)
    assert (fig.met, fig.note) == (None, "no kubectl")


def test_percentiles_are_given_in_milliseconds() -> None:
    assert p50_p99_ms([0.001, 0.002, 0.003]) == (2.0, 2.98)


def test_a_pod_is_ready_by_its_ready_condition_only() -> None:
    def pod(*conditions: tuple[str, str]) -> dict[str, object]:
        return {"status": {"conditions": [{"type": t, "status": s} for t, s in conditions]}}

    assert is_ready(pod(("PodScheduled", "True"), ("Ready", "True")))
    assert not is_ready(pod(("Ready", "False"), ("ContainersReady", "True")))
    assert not is_ready({"status": {}})
    assert not is_ready({})


def test_the_deployment_selects_its_own_template() -> None:
    doc = deployment("bench-10", 10)
    assert doc["spec"]["replicas"] == 10
    assert doc["spec"]["selector"]["matchLabels"] == doc["spec"]["template"]["metadata"]["labels"]


def test_a_stamp_is_read_once_it_is_whole(tmp_path: Path) -> None:
    stamp = tmp_path / "s.txt"
    assert read_stamp(stamp) is None
    stamp.write_text("")
    assert read_stamp(stamp) is None
    stamp.write_text("1796188470.566216\n")
    assert read_stamp(stamp) == 1796188470.566216
