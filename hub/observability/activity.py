"""Counts per minute over the last hour, for the status page's charts.

Prometheus keeps history for those who run it; the status page must draw the
last hour without one (an air-gapped operator with a browser only), so the hub
keeps sixty one-minute buckets of what it charts, in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MINUTES = 60


class PerMinute:
    """Events per minute for the last `MINUTES` minutes (oldest first), newest the current."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[int, int] = {}

    def add(self, n: int = 1) -> None:
        minute = int(self._clock() // 60)
        self._counts[minute] = self._counts.get(minute, 0) + n
        if len(self._counts) > MINUTES:
            for old in [m for m in self._counts if m <= minute - MINUTES]:
                del self._counts[old]

    def series(self) -> list[int]:
        now = int(self._clock() // 60)
        return [self._counts.get(m, 0) for m in range(now - MINUTES + 1, now + 1)]


# Calls to tonglian.v1.Query, and deliveries confirmed at their destination.
QUERIES = PerMinute()
DELIVERIES = PerMinute()
