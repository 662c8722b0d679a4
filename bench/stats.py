"""Percentiles and rates: the few statistics every benchmark reports the same way."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any


def p50_p99_ms(samples: list[float]) -> tuple[float, float]:
    """Median and 99th percentile (nearest rank) of durations in seconds, in milliseconds."""
    if not samples:
        return float("nan"), float("nan")
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return round(statistics.median(ordered) * 1e3, 2), round(p99 * 1e3, 2)


def ratio(value: float, baseline: float, digits: int = 3) -> float:
    return round(value / baseline, digits) if baseline else float("nan")


async def interleaved(calls: list[Callable[[int], Awaitable[Any]]], n: int) -> list[list[float]]:
    """Times `n` calls of each, alternating, so load from elsewhere hits all alike."""
    for i in range(min(10, n)):  # warm up connections and caches
        for call in calls:
            await call(i)
    samples: list[list[float]] = [[] for _ in calls]
    for i in range(n):
        for call, out in zip(calls, samples, strict=True):
            start = time.perf_counter()
            await call(i)
            out.append(time.perf_counter() - start)
    return samples


def alternating_rates(
    a: Callable[[], int], b: Callable[[], int], seconds: float
) -> tuple[float, float]:
    """Rates (items per CPU second of this process) of two batch functions that return
    how many items they did, alternated so outside load affects both alike."""
    a(), b()  # warm up (caches, imports)
    done, spent = [0, 0], [0.0, 0.0]
    while sum(spent) < 2 * seconds:
        for i, fn in enumerate((a, b)):
            start = time.process_time()
            done[i] += fn()
            spent[i] += time.process_time() - start
    return done[0] / spent[0], done[1] / spent[1]
