"""The store interface: what the hub keeps across restarts, one small protocol per concern.

Two implementations: `SqliteStore` (embedded, the default: one process) and
`PostgresStore` (any number of replicas on one database). Every write is durable
before the call returns, so a caller may acknowledge work as soon as the store has
it (DESIGN principle 4). A store that cannot reach its database raises
`hub.errors.StoreUnavailable` (UNAVAILABLE), never a driver error.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from hub.errors import LeaseLost
from hub.store.notifications import TrustVersions
from hub.store.predicate_questions import PredicateQuestions
from hub.store.relay_rows import Backlog
from tonglian.v1 import audit_pb2, chains_pb2, relay_pb2


@dataclass(frozen=True)
class AuditAppend:
    """An audit event to chain onto the log inside a store transaction (`also=`), so it
    commits with the state change it records, or not at all. `draft` has no sequence
    or hashes yet; the store fills them in under its append lock. Once the transaction
    has committed, the store calls `on_chained` with the event (`announce`): a rolled
    back transaction announces nothing, and one tried again announces once."""

    draft: audit_pb2.AuditEvent
    evidence: bytes | None = None
    on_chained: Callable[[audit_pb2.AuditEvent], None] | None = None


def announce(steps: Sequence[AuditAppend], events: Sequence[audit_pb2.AuditEvent]) -> None:
    """Tells each committed step's `on_chained` its event (the audit metrics)."""
    for step, event in zip(steps, events, strict=True):
        if step.on_chained is not None:
            step.on_chained(event)


# A write that joins a store transaction: today, an audit event.
TxStep = AuditAppend


@dataclass(frozen=True)
class BlockCommit:
    """One route's part of a scanned block: its deliveries and its new checkpoint, with
    `also` (the block's audit events for it), fenced by `lease_epoch` when given."""

    route_id: str
    deliveries: Sequence[relay_pb2.Delivery]
    height: int
    block_hash: bytes
    also: Sequence[TxStep] = ()
    lease_epoch: int | None = None


@dataclass(frozen=True)
class DeliveryUpdate:
    """A delivery's next state, with `also` (its audit event) to commit beside it. With
    `claimed` (the deliverer's own claim) the store fences it by the claim's epoch."""

    delivery_id: str
    state: int
    attempts: int
    next_attempt_at: float
    last_error: str = ""
    dest_tx_id: str = ""
    dest_block_height: int = 0
    rejection: int = 0
    also: Sequence[TxStep] = ()
    claimed: bool = False


class OneBlockCommit:
    """Gives a store `RouteStore.commit_block` from its own `commit_blocks`: one block
    is a group of one, in every store."""

    async def commit_blocks(self, commits: Sequence[BlockCommit]) -> list[bool | LeaseLost]:
        raise NotImplementedError

    async def commit_block(
        self,
        route_id: str,
        deliveries: list[relay_pb2.Delivery],
        height: int,
        block_hash: bytes,
        also: Sequence[TxStep] = (),
        lease_epoch: int | None = None,
    ) -> bool:
        commit = BlockCommit(route_id, deliveries, height, block_hash, also, lease_epoch)
        (stored,) = await self.commit_blocks([commit])
        if isinstance(stored, LeaseLost):
            raise stored
        return stored


class ChainStore(Protocol):
    async def add_chain(self, chain: chains_pb2.Chain) -> None:
        """Stores a new chain and bumps its trust version; raises
        hub.errors.AlreadyExists when the id is taken."""
        ...

    async def get_chain(self, chain_id: str) -> chains_pb2.Chain | None: ...

    async def list_chains(self, after: str, limit: int) -> list[chains_pb2.Chain]:
        """Chains ordered by id, strictly after `after`, at most `limit`."""
        ...

    async def remove_chain(self, chain_id: str) -> bool:
        """Deletes a chain and bumps its trust version; False when there was none."""
        ...

    @property
    def trust(self) -> TrustVersions:
        """The newest trust version of each chain, kept current by this store: add_chain
        and remove_chain bump the chain's version in their own transaction, and every
        replica hears of it (hub/store/notifications.py)."""
        ...

    async def chain_version(self, chain_id: str) -> tuple[chains_pb2.Chain | None, int]:
        """The chain as stored (None: not registered now) and its trust version (0: never
        registered), read together."""
        ...

    async def trust_versions(self) -> dict[str, int]:
        """Every chain's trust version, removed chains included."""
        ...


class SharedRevocations(Protocol):
    """The newest CRL of each client CA, shared by every replica of the store."""

    @property
    def trust(self) -> TrustVersions: ...

    async def publish_crl(self, issuer: str, last_update: float, crl: bytes) -> bool:
        """Stores `crl` unless the store holds a newer one of `issuer` (or this one), and
        bumps the trust version of CRL_PREFIX + issuer; whether it was stored."""
        ...

    async def crls(self) -> list[bytes]:
        """Every CA's newest CRL (DER), unchecked: each replica checks the signature."""
        ...


class RouteStore(Protocol):
    async def add_route(self, route: relay_pb2.Route) -> None: ...

    async def get_route(self, route_id: str) -> relay_pb2.Route | None:
        """The route with its checkpoint and lease (holder only while the lease is live)."""
        ...

    async def list_routes(self, after: str, limit: int) -> list[relay_pb2.Route]: ...

    async def set_route_state(self, route_id: str, state: int) -> bool: ...

    async def delete_route(self, route_id: str) -> bool:
        """Deletes a route, its lease and its unconfirmed deliveries."""
        ...

    async def commit_block(
        self,
        route_id: str,
        deliveries: list[relay_pb2.Delivery],
        height: int,
        block_hash: bytes,
        also: Sequence[TxStep] = (),
        lease_epoch: int | None = None,
    ) -> bool:
        """Stores a block's deliveries and the new checkpoint with `also`, atomically; a
        delivery id seen before is not stored twice.

        With `lease_epoch`, raises hub.errors.LeaseLost (storing nothing) unless the
        route's lease still has that epoch: the fence. False when the route is gone
        or already past `height`."""
        ...

    async def commit_blocks(self, commits: Sequence[BlockCommit]) -> list[bool | LeaseLost]:
        """`commit_block` for several routes in one transaction (the routes that share a
        source's block: one disk sync, not one per route). Per commit: True when stored;
        False (nothing of it stored) when its route is gone or already past its height;
        a LeaseLost, returned not raised, when its fence failed (nothing of it stored).
        The other commits are stored all the same; an error raised stores none."""
        ...


class LeaseStore(Protocol):
    """Which replica works which route: a lease row per route, with an expiry and a
    fencing epoch that grows on every takeover. The store knows its replica."""

    @property
    def replica_id(self) -> str: ...

    async def acquire_lease(self, route_id: str, ttl: float) -> int | None:
        """Takes or renews this replica's lease on `route_id` for `ttl` seconds and
        returns its epoch (unchanged on renewal, even a late one nobody took over
        meanwhile; +1 when it changes hands); None while another replica holds a live
        lease, or when there is no such route."""
        ...

    async def release_lease(self, route_id: str) -> None:
        """Gives up this replica's lease now (a clean stop), so another takes over at once."""
        ...


class DeliveryQueue(Protocol):
    async def due_deliveries(
        self, limit: int, exclude: set[str], resting: Collection[str] = ()
    ) -> list[relay_pb2.Delivery]:
        """Claims pending or submitted deliveries that are due, oldest first, of routes
        this replica may work (under its lease), skipping ones another replica holds
        (`FOR UPDATE SKIP LOCKED`). Versions of a key wait for the older ones to be
        final; deliveries to a `resting` destination are left out."""
        ...

    async def next_due_at(self) -> float | None: ...

    async def update_deliveries(self, updates: Sequence[DeliveryUpdate]) -> None:
        """Moves deliveries to their next states in one transaction (a group commit of
        one or more): each change with its own audit event (`also`), all or none. A
        `claimed` change (the deliverer's own claim) is fenced: raises
        hub.errors.LeaseLost, storing none, unless its claim's epoch is still the route
        lease's (a paused replica cannot commit)."""
        ...

    async def get_delivery(self, delivery_id: str) -> relay_pb2.Delivery | None: ...

    async def list_deliveries(
        self, route_id: str, state: int, after_seq: int, limit: int
    ) -> list[tuple[int, relay_pb2.Delivery]]: ...

    async def backlog(self, route_id: str) -> Backlog: ...

    async def count_deliveries(self) -> dict[int, int]: ...

    async def recent_deliveries(self, limit: int) -> list[relay_pb2.Delivery]: ...

    async def count_unconfirmed(self) -> int: ...

    async def unconfirmed_by_route(self, route_ids: Collection[str]) -> dict[str, int]:
        """Pending and submitted deliveries of each of `route_ids` (0 for one with none),
        counted on the route index: the scan's back-pressure check, the routes of a
        block in one query however long their history of confirmed deliveries."""
        ...

    def on_delivery_changed(self, callback: Callable[[relay_pb2.Delivery], None]) -> None:
        """Calls `callback` with each delivery another replica moved (LISTEN/NOTIFY);
        a single-process store never calls it."""
        ...


class AuditStore(Protocol):
    """The hash-chained audit log's rows: appends are serialised by the store, so the
    chain has one total order across replicas and never forks."""

    async def audit_append(self, steps: Sequence[AuditAppend]) -> list[audit_pb2.AuditEvent]:
        """Chains `steps` onto the log in order, in one transaction (a group commit)."""
        ...

    async def audit_head(self) -> tuple[int, bytes]: ...

    async def audit_events(
        self, from_sequence: int, limit: int, principal: str = "", action: str = ""
    ) -> list[audit_pb2.AuditEvent]: ...

    async def audit_add_anchor(self, anchor: audit_pb2.AuditAnchor) -> None: ...

    async def audit_anchors(self) -> list[audit_pb2.AuditAnchor]: ...

    async def audit_evidence(self, sequence: int) -> bytes | None: ...


class Store(ChainStore, SharedRevocations, RouteStore, LeaseStore, DeliveryQueue, AuditStore,
            PredicateQuestions, Protocol):  # fmt: skip
    async def open(self) -> None:
        """Connects and brings the schema up to date (migrations)."""
        ...

    async def close(self) -> None: ...

    async def schema_version(self) -> int: ...
