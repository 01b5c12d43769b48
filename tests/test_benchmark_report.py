"""The benchmark's aggregation of rounds: median, spread, and the target judged on the median."""

from __future__ import annotations

import math

from benchmarks.report import Figure, aggregate, below, shown


def test_rounds_become_median_and_spread_judged_on_the_median() -> None:
    rounds = [
        [below("s", "p99", v, "ms", 20), Figure("s", "rate", r, "req/s")]
        for v, r in ((12.0, 100.0), (31.0, 300.0), (18.0, 200.0))
    ]
    p99, rate = aggregate(rounds)
    assert (p99.value, p99.spread, p99.rounds, p99.met) == (18.0, (12.0, 31.0), 3, True)
    assert p99.details["rounds"] == [12.0, 31.0, 18.0]
    assert rate.value == 200.0
    assert rate.met is None
    assert shown(p99) == "18.0 ms (12.0-31.0, 3 rounds)"


def test_a_median_over_the_target_is_not_met_and_missing_values_are_skipped() -> None:
    rounds = [[below("s", "p99", v, "ms", 20)] for v in (25.0, math.nan, 19.0, 30.0)]
    (fig,) = aggregate(rounds)
    assert fig.value == 25.0
    assert fig.met is False
    assert fig.rounds == 4


def test_one_round_is_left_as_it_is() -> None:
    fig = below("s", "p99", 5.0, "ms", 20)
    assert aggregate([[fig]]) == [fig]
    assert shown(fig) == "5.00 ms"


def test_at_most_and_ratio_targets_are_judged_also_over_rounds() -> None:
    from benchmarks.report import at_most, ratio

    assert at_most("s", "rss", 35.0, "MiB", 35).met is True
    assert at_most("s", "rss", 36.0, "MiB", 35).met is False
    r = ratio("s", "cpu", 3.0, 2.0, 1.5)
    assert (r.value, r.target, r.met) == (1.5, "<= 1.5 x", True)
    assert math.isnan(ratio("s", "cpu", 3.0, 0.0, 1.5).value)
    assert ratio("s", "cpu", 3.0, 0.0, 1.5).met is None
    rounds = [[ratio("s", "cpu", v, 1.0, 1.5)] for v in (1.2, 2.0, 1.6)]
    (fig,) = aggregate(rounds)
    assert (fig.value, fig.met) == (1.6, False)


def test_histogram_quantiles_and_maximum_from_bucket_deltas() -> None:
    from benchmarks.harness import parse_metrics, window_stats
    from benchmarks.stats import bucket_max, bucket_quantile

    hist = [(0.001, 0.0), (0.002, 50.0), (0.005, 99.0), (0.01, 100.0), (math.inf, 100.0)]
    assert bucket_quantile(hist, 50) == 0.002
    assert abs(bucket_quantile(hist, 99) - 0.005) < 1e-12
    assert bucket_max(hist) == 0.01
    assert math.isnan(bucket_quantile([(0.001, 0.0), (math.inf, 0.0)], 50))

    def scrape(lag: tuple[int, int, int], gc: tuple[int, float]) -> str:
        return "\n".join([
            "# HELP minikubelet_event_loop_lag_seconds lag",
            f'minikubelet_event_loop_lag_seconds_bucket{{le="0.001"}} {lag[0]}.0',
            f'minikubelet_event_loop_lag_seconds_bucket{{le="0.01"}} {lag[1]}.0',
            f'minikubelet_event_loop_lag_seconds_bucket{{le="+Inf"}} {lag[2]}.0',
            f'minikubelet_gc_pause_seconds_bucket{{generation="2",le="0.01"}} {gc[0]}.0',
            f'minikubelet_gc_pause_seconds_bucket{{generation="2",le="0.05"}} {gc[0]}.0',
            f'minikubelet_gc_pause_seconds_bucket{{generation="2",le="+Inf"}} {gc[0]}.0',
            f'minikubelet_gc_pause_seconds_sum{{generation="2"}} {gc[1]}',
            'minikubelet_gc_pause_seconds_bucket{generation="1",le="0.01"} 7.0',
        ])  # fmt: skip

    before = parse_metrics(scrape((10, 10, 10), (1, 0.004)))
    after = parse_metrics(scrape((20, 30, 30), (3, 0.010)))
    w = window_stats(before, after)
    assert w.lag_samples == 20
    assert w.lag_p50_ms == 1.0  # half the new ticks were under 1 ms
    assert w.lag_max_ms == 10.0
    assert (w.gc_count, w.gc_max_ms) == (2, 10.0)
    assert abs(w.gc_total_ms - 6.0) < 1e-9


def test_exits_before_the_window_are_left_out_by_their_stamps() -> None:
    from benchmarks.exits import Observed, latencies, restarts

    seen = Observed(terminated={("a", 0): 1.01, ("a", 1): 2.02}, running={("a", 1): 1.03})
    detect, running = latencies({"a": [1.0, 2.0]}, seen, skip_first=0, since=1.5)
    assert [round(d, 3) for d in detect] == [0.02]
    assert running == []
    stamps = {"a": ([0.5, 1.2, 2.2], [1.0, 2.0])}
    assert [round(r, 3) for r in restarts(stamps, skip_first=0, since=1.5)] == [0.2]
    assert [round(r, 3) for r in restarts(stamps, skip_first=0)] == [0.2, 0.2]
