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
