"""Each adapter call as operators see it: a span, a debug log line, and on failure a
count by reason (`tonglian_adapter_errors_total`); each head as the status page shows it.

The reason is read from the hub error the guarded adapter raised (its type, and
for time-outs and crashes its cause), never from message text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from adapters import base
from hub.errors import (
    AdapterMisbehaved,
    ChainMisconfigured,
    ChainUnreachable,
    InvalidInput,
    NotFound,
)
from hub.observability.metrics import METRICS
from hub.observability.tracing import span
from tonglian.v1 import chains_pb2

log = logging.getLogger("tonglian.adapter")


def reason_of(exc: BaseException) -> str | None:
    """The `reason` label of a failed adapter call; None when it is no adapter fault."""
    if isinstance(exc, NotFound | asyncio.CancelledError | GeneratorExit):
        return None
    if isinstance(exc, ChainUnreachable):
        return "timeout" if isinstance(exc.__context__, TimeoutError) else "unreachable"
    if isinstance(exc, ChainMisconfigured):
        return "misconfigured"
    if isinstance(exc, InvalidInput):
        return "invalid_request"
    if isinstance(exc, AdapterMisbehaved):
        cause = exc.__cause__
        crashed = isinstance(cause, Exception) and not isinstance(cause, base.AdapterError)
        return "crashed" if crashed else "misbehaved"
    return "crashed"


def count_error(chain_id: str, exc: BaseException, reason: str | None = None) -> None:
    """Counts a failed adapter call; `reason` overrides what the error says."""
    reason = reason or reason_of(exc)
    if reason is not None:
        METRICS.adapter_errors.labels(chain=chain_id, reason=reason).inc()


@contextmanager
def adapter_call(chain_id: str, adapter: str, what: str) -> Iterator[None]:
    """Wraps one adapter call (`what` names the operation, e.g. "read")."""
    started = time.perf_counter()
    with span(f"adapter.{what}", chain=chain_id, adapter=adapter):
        try:
            yield
        except BaseException as exc:
            count_error(chain_id, exc)
            log.debug(
                "adapter %s of chain %s: %s failed after %.1f ms: %s",
                adapter,
                chain_id,
                what,
                (time.perf_counter() - started) * 1000,
                type(exc).__name__,
            )
            raise
        log.debug(
            "adapter %s of chain %s: %s ok in %.1f ms",
            adapter,
            chain_id,
            what,
            (time.perf_counter() - started) * 1000,
        )


@dataclass(frozen=True)
class HeadSeen:
    """A chain's last head as its adapter reported it, or the error of the last attempt."""

    head: chains_pb2.ChainHead | None
    at: float
    error: str = ""


# chain id -> what its last head call said; read by the status page and /metrics.
HEADS: dict[str, HeadSeen] = {}


def head_seen(chain_id: str, head: chains_pb2.ChainHead) -> None:
    HEADS[chain_id] = HeadSeen(head, time.time())


def head_failed(chain_id: str, error: str) -> None:
    last = HEADS.get(chain_id)
    HEADS[chain_id] = HeadSeen(last.head if last else None, time.time(), error)
