"""Small statistics helpers (no numpy): percentiles by linear interpolation, as numpy's
default, so figures can be checked against any other tool."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of `values`; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """count, p50, p90, p99 and max of durations in seconds, as milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "count": float(len(ms)),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else math.nan,
    }


def bucket_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float:
    """The q-th percentile (0..100) of a histogram given as (upper bound, cumulative count)
    pairs in order, interpolated linearly inside its bucket as Prometheus'
    `histogram_quantile` does (the first bucket starts at 0; a rank in the +Inf bucket gives
    the highest finite bound). NaN when the histogram is empty."""
    if not buckets or buckets[-1][1] <= 0:
        return math.nan
    rank = buckets[-1][1] * q / 100
    low_bound, low_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank and count > low_count:
            if math.isinf(bound):
                return low_bound
            return low_bound + (bound - low_bound) * (rank - low_count) / (count - low_count)
        low_bound, low_count = bound, count
    return low_bound


def bucket_max(buckets: Sequence[tuple[float, float]]) -> float:
    """The upper bound of the highest bucket that holds an observation (inf if the +Inf
    one): the largest value is at most this. NaN when empty."""
    if not buckets or buckets[-1][1] <= 0:
        return math.nan
    total = buckets[-1][1]
    return next(bound for bound, count in buckets if count >= total)
