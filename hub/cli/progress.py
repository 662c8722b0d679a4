"""Progress of long work on a terminal: a step counter with counts and rates, redrawn in place.

Quiet when stderr is not a terminal or the verb prints `--json`, so scripts and logs
get the results only. One line on stderr, rewritten at most every `interval` seconds:

    audit verify: 12,000/33,000 events  8,431/s  1.4s
    devnet up: step 3  2.1s  custom: validators up
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO


class Meter:
    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "",
        quiet: bool = False,
        stream: TextIO | None = None,
        interval: float = 0.1,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and self.stream.isatty()
        self.label = label
        self.total = total
        self.unit = unit
        self.count = 0
        self.steps = 0
        self.text = ""
        self._interval = interval
        self._start = time.monotonic()
        self._drawn = 0.0

    def advance(self, n: int = 1) -> None:
        """Counts `n` more items done."""
        self.count += n
        self._draw()

    def step(self, text: str) -> None:
        """A new step of work that has no count: its number and what it is."""
        self.steps += 1
        self.text = text
        self._draw(force=True)

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def line(self) -> str:
        elapsed = self.elapsed()
        parts: list[str] = []
        if self.count or self.total:
            done = f"{self.count:,}" + (f"/{self.total:,}" if self.total else "")
            parts.append(f"{done} {self.unit}".rstrip())
            if elapsed > 0:
                parts.append(f"{self.count / elapsed:,.0f}/s")
        elif self.steps:
            parts.append(f"step {self.steps}")
        parts.append(f"{elapsed:.1f}s")
        if self.text:
            parts.append(self.text)
        return f"{self.label}: " + "  ".join(parts)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._drawn < self._interval):
            return
        self._drawn = now
        self.stream.write("\r\x1b[K" + self.line())
        self.stream.flush()

    def close(self) -> None:
        """Draws the final counts and ends the line (nothing when quiet)."""
        if self.enabled:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
            self.enabled = False

    def __enter__(self) -> Meter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
