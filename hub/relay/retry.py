"""How long to wait before trying again: exponential backoff with jitter, capped.

Two clocks: one delivery's own failures (`delay`, bounded attempts then parked),
and probes of a destination that cannot be reached (`probe_delay`, kept short so
the backlog resumes soon after the destination returns)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 0.5
    cap: float = 30.0
    # Failures of one delivery (not counting an unreachable destination) before it is parked.
    max_attempts: int = 6
    # Probes of an unreachable destination: base * 2^n, at most probe_cap apart.
    probe_base: float = 0.1
    probe_cap: float = 1.0

    def delay(self, attempt: int) -> float:
        """Seconds before attempt number `attempt + 1` (attempt counts from 1)."""
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def probe_delay(self, probe: int) -> float:
        """Seconds before probe number `probe + 1` of an unreachable destination."""
        ceiling = min(self.probe_cap, self.probe_base * (2 ** max(0, probe - 1)))
        return random.uniform(ceiling / 2, ceiling)
