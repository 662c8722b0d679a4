"""Percentiles and rates: the few statistics every benchmark reports the same way."""

from __future__ import annotations

import statistics


def p50_p99_ms(samples: list[float]) -> tuple[float, float]:
    """Median and 99th percentile (nearest rank) of durations in seconds, in milliseconds."""
    if not samples:
        return float("nan"), float("nan")
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return round(statistics.median(ordered) * 1e3, 2), round(p99 * 1e3, 2)


def ratio(value: float, baseline: float, digits: int = 3) -> float:
    return round(value / baseline, digits) if baseline else float("nan")
