"""How long to wait before trying again: exponential backoff with full jitter, capped."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 0.5
    cap: float = 30.0
    # Failures of one delivery (not counting an unreachable destination) before it is parked.
    max_attempts: int = 6

    def delay(self, attempt: int) -> float:
        """Seconds before attempt number `attempt + 1` (attempt counts from 1)."""
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)
