"""The Adapter protocol that every chain adapter implements, in process or out of process.

An adapter moves bytes: it reads records with raw proof material, scans final
blocks, reports the head and submits deliveries. It never decides whether a
proof is good; the hub verifies everything it returns. The values it exchanges
are the `tonglian.v1` messages, so an out-of-process adapter (`adapters/remote.py`)
is the same protocol over gRPC.

Errors are the typed exceptions below; the hub maps each to one gRPC status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tonglian.v1 import adapter_pb2, chains_pb2, relay_pb2


class AdapterError(Exception):
    """Base of every error an adapter raises; the message is meant for people."""


class RecordNotFound(AdapterError):
    """The chain holds no such record (or not at the asked height)."""


class ChainUnavailable(AdapterError):
    """The chain cannot be reached now; the same call may succeed later."""


class InvalidAdapterRequest(AdapterError):
    """The request cannot be served as asked (bad namespace, key, height, ...)."""


class AdapterMisconfigured(AdapterError):
    """The adapter's settings are wrong; fixing the registration is needed."""


class SubmissionRejected(AdapterError):
    """The destination refused a delivery for a reason retrying will not fix."""


class Secret:
    """A secret the hub resolved from a SecretRef: printing, logging or comparing it shows
    nothing; only `reveal()` gives the value, at the one place that uses it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


@dataclass(frozen=True)
class AdapterContext:
    """What the hub hands an adapter when it creates one for a registered chain."""

    chain_id: str
    # Adapter-specific public settings, from AdapterSettings.options (a JSON object).
    options: Mapping[str, Any] = field(default_factory=dict)
    # The adapter's secrets by name, resolved by the hub from AdapterSettings.secrets.
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    trust_anchor: chains_pb2.TrustAnchor = field(default_factory=chains_pb2.TrustAnchor)
    # Deadline for one chain call, in seconds.
    timeout: float = 10.0


@runtime_checkable
class Adapter(Protocol):
    """One linked chain, as the hub sees it."""

    async def describe(self) -> adapter_pb2.DescribeResponse:
        """Name, chain kind and identity, so the hub can check a registration."""
        ...

    async def head(self) -> chains_pb2.ChainHead:
        """The chain's current and final heights."""
        ...

    async def read(
        self, namespace: str, key: str, at_height: int = 0
    ) -> adapter_pb2.ReadRecordResponse:
        """The latest final version of a key (or the one at `at_height`) with its proof."""
        ...

    def scan(
        self, namespace: str, from_height: int, to_height: int = 0, follow: bool = False
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        """Final blocks from `from_height` on: each block's records, then its BlockMark.

        Only final blocks are reported, so a record once sent never leaves the
        canonical chain. With `follow` the iterator waits for new final blocks.
        """
        ...

    async def submit(self, delivery: relay_pb2.Delivery) -> adapter_pb2.Submission:
        """Applies a delivery to the destination inbox; the inbox accepts each id once."""
        ...

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        """The destination's view of one delivery (UNKNOWN when never seen)."""
        ...

    async def close(self) -> None:
        """Releases connections; the adapter is not used afterwards."""
        ...


@runtime_checkable
class FollowsFinalHeights(Protocol):
    """An adapter that can tell when its chain reaches a new final block, as soon as it
    does (a long poll, a subscription, or the chain's own cadence): the deliverer asks
    about submitted deliveries then, instead of on a timer. Optional."""

    def final_heights(self, from_height: int) -> AsyncIterator[int]:
        """Yields the chain's final height each time it reaches `from_height` or more,
        waiting in between; never ends while the chain can be reached."""
        ...


@runtime_checkable
class ChecksManySubmissions(Protocol):
    """An adapter that can ask its chain about many deliveries in one request: at each
    new final block the deliverer asks about all of a destination's submitted
    deliveries together, not with one request each. Optional."""

    async def submissions(self, delivery_ids: Sequence[str]) -> list[adapter_pb2.Submission]:
        """One answer per id, in the order asked (UNKNOWN for one never seen)."""
        ...


AdapterFactory = Callable[[AdapterContext], Adapter]
"""What the `tonglian.adapters` entry point of a plugin names."""
