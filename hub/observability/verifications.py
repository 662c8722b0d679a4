"""Each verification as operators see it: a span, and a count and time by proof kind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from hub.errors import ProofRejected
from hub.observability.metrics import METRICS
from hub.observability.tracing import span


def counted(kind: str, ok: int, rejected: int, seconds: float) -> None:
    """Counts `ok` + `rejected` proofs of `kind` verified in `seconds` altogether."""
    total = ok + rejected
    if ok:
        METRICS.verifications.labels(kind=kind, outcome="ok").inc(ok)
    if rejected:
        METRICS.verifications.labels(kind=kind, outcome="rejected").inc(rejected)
    for _ in range(total):
        METRICS.verification_seconds.labels(kind=kind).observe(seconds / total)


@contextmanager
def verifying(kind: str, chain_id: str) -> Iterator[None]:
    """Wraps the verification of one proof: ProofRejected counts as rejected."""
    started = time.perf_counter()
    with span("verify", kind=kind, chain=chain_id):
        try:
            yield
        except ProofRejected:
            counted(kind, 0, 1, time.perf_counter() - started)
            raise
    counted(kind, 1, 0, time.perf_counter() - started)
