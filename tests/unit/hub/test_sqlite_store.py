from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import AlreadyExists
from hub.store.base import DeliveryUpdate
from hub.store.migrations import MIGRATIONS
from hub.store.sqlite import SqliteStore
from tonglian.v1 import chains_pb2


def chain(chain_id: str) -> chains_pb2.Chain:
    return chains_pb2.Chain(chain_id=chain_id, kind=chains_pb2.CHAIN_KIND_SIGNED_MERKLE)


async def test_migrations_and_persistence(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    assert await store.schema_version() == MIGRATIONS[-1][0]
    for cid in ("b", "a", "c"):
        await store.add_chain(chain(cid))
    await store.close()

    again = SqliteStore(tmp_path / "hub.sqlite3")
    await again.open()  # migrations are not re-applied
    assert [c.chain_id for c in await again.list_chains("", 10)] == ["a", "b", "c"]
    assert [c.chain_id for c in await again.list_chains("a", 1)] == ["b"]
    got = await again.get_chain("b")
    assert got == chain("b")
    assert await again.get_chain("zz") is None
    assert await again.remove_chain("b") is True
    assert await again.remove_chain("b") is False
    await again.close()


async def test_duplicate_chain(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    await store.add_chain(chain("a"))
    with pytest.raises(AlreadyExists, match="chain 'a' is already registered"):
        await store.add_chain(chain("a"))
    await store.close()


async def test_a_key_waits_for_its_older_versions_and_a_resting_destination_waits(
    tmp_path: Path,
) -> None:
    from hub.relay.delivery_id import delivery_id
    from tonglian.v1 import records_pb2, relay_pb2

    store = SqliteStore(tmp_path / "hub.sqlite3")
    await store.open()
    await store.add_route(relay_pb2.Route(route_id="r", state=relay_pb2.ROUTE_STATE_ACTIVE))

    def d(key: str, version: int, dest: str = "dst") -> relay_pb2.Delivery:
        ref = records_pb2.RecordRef(chain_id="src", namespace="ns", key=key)
        record = records_pb2.Record(ref=ref, tx_id=f"{key}{version}", version=version)
        return relay_pb2.Delivery(
            delivery_id=delivery_id(record, dest, "in"),
            route_id="r",
            record=record,
            destination_chain_id=dest,
            destination_namespace="in",
            state=relay_pb2.DELIVERY_STATE_PENDING,
        )

    # Newer versions stored first (another block order): still handed out oldest first.
    await store.commit_block("r", [d("a", 3), d("a", 2)], 1, b"h1")
    await store.commit_block("r", [d("a", 1), d("b", 1), d("c", 1, "other")], 2, b"h2")
    due = await store.due_deliveries(10, set())
    assert [(x.record.ref.key, x.record.version) for x in due] == [("a", 1), ("b", 1), ("c", 1)]
    rested = await store.due_deliveries(10, set(), resting={"other"})
    assert [x.record.ref.key for x in rested] == ["a", "b"]
    await store.update_deliveries([DeliveryUpdate(
        d("a", 1).delivery_id, state=relay_pb2.DELIVERY_STATE_CONFIRMED, attempts=0,
        next_attempt_at=0,
    )])  # fmt: skip
    due = await store.due_deliveries(10, set())
    assert [(x.record.ref.key, x.record.version) for x in due] == [("a", 2), ("b", 1), ("c", 1)]
    await store.close()
