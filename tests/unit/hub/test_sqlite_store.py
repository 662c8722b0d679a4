from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import AlreadyExists
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
