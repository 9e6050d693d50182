"""Summaries of latency samples: medians and tails, never means alone."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in 0..1) of a non-empty sequence."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summarize_ms(samples_s: Sequence[float]) -> dict[str, float | int]:
    """Median, p99 and mean in milliseconds of durations given in seconds."""
    if not samples_s:
        return {"n": 0}
    ms = [sample * 1000 for sample in samples_s]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p99_ms": percentile(ms, 0.99),
        "mean_ms": statistics.fmean(ms),
        "min_ms": min(ms),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator
