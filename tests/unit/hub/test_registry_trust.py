"""The registry serves a cached chain only while its trust version is the newest the
store announced; when that cannot be confirmed it asks the store, and refuses with
UNAVAILABLE naming the chain when the store does not answer in time."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hub.errors import NotFound, StoreUnavailable
from hub.registry import CONFIRM_TIMEOUT, ChainRegistry
from hub.router import Router
from hub.store.notifications import FRESHNESS_BOUND, TrustVersions
from hub.store.sqlite import SqliteStore
from tests.unit.hub.test_registry_adapter import custom_chain
from tonglian.v1 import chains_pb2


class ReplicaStore(SqliteStore):
    """A real store whose trust versions come from outside, as a PostgreSQL replica's do
    (notifications, polls), and whose version reads can be held back."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._trust = TrustVersions()
        self.answering = asyncio.Event()
        self.answering.set()

    async def chain_version(self, chain_id: str) -> tuple[chains_pb2.Chain | None, int]:
        await self.answering.wait()
        return await super().chain_version(chain_id)


@pytest.fixture
async def store(tmp_path: Path) -> ReplicaStore:
    store = ReplicaStore(tmp_path / "hub.sqlite3")
    await store.open()
    return store


async def test_a_copy_whose_version_was_superseded_is_read_again(store: ReplicaStore) -> None:
    registry = ChainRegistry(store, Router(5.0, store.path.parent))
    await registry.register(custom_chain("http://127.0.0.1:1"))
    store.trust.confirmed(time.monotonic(), await store.trust_versions())
    assert (await registry.get("ledger-1")).adapter.options["url"] == "http://127.0.0.1:1"

    # Another replica removes the chain; until this one hears of it, its copy stands.
    other = SqliteStore(store.path)
    await other.open()
    await other.remove_chain("ledger-1")
    await other.close()
    assert (await registry.get("ledger-1")).chain_id == "ledger-1"
    # Heard (the listener's poll): version 2 supersedes the copy, which is read again.
    store.trust.confirmed(time.monotonic(), await store.trust_versions())
    with pytest.raises(NotFound, match="no chain 'ledger-1' is registered"):
        await registry.get("ledger-1")
    await store.close()


async def test_unconfirmed_freshness_is_asked_of_the_store_and_refused_when_it_is_silent(
    store: ReplicaStore,
) -> None:
    registry = ChainRegistry(store, Router(5.0, store.path.parent))
    await registry.register(custom_chain("http://127.0.0.1:1"))
    store.trust.confirmed(time.monotonic() - 2 * FRESHNESS_BOUND, {})  # notifications lost
    assert store.trust.latest("ledger-1") is None
    # The store answers: the copy it gives is served.
    assert (await registry.get("ledger-1")).chain_id == "ledger-1"

    store.answering.clear()  # the store does not answer in time
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as refused:
        await registry.get("ledger-1")
    assert time.monotonic() - started < CONFIRM_TIMEOUT + 0.5
    assert str(refused.value) == (
        "this replica cannot confirm chain 'ledger-1''s trust anchors are current "
        "(its store does not answer); retry"
    )
    store.answering.set()
    await store.close()


async def test_long_work_learns_that_its_chain_changed_or_cannot_be_confirmed(
    store: ReplicaStore,
) -> None:
    registry = ChainRegistry(store, Router(5.0, store.path.parent))
    await registry.register(custom_chain("http://127.0.0.1:1"))
    store.trust.confirmed(time.monotonic(), await store.trust_versions())
    held = await registry.get("ledger-1")
    assert registry.is_current(held)

    await store.remove_chain("ledger-1")
    await store.add_chain(custom_chain("http://127.0.0.1:2"))  # anchored anew
    assert not registry.is_current(held)

    store.trust.lost()  # the notification connection dropped
    with pytest.raises(StoreUnavailable, match="notifications are down"):
        registry.is_current(held)
    await store.close()
