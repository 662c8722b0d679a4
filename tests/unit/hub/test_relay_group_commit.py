"""The deliverer's group commit: a store that is down fails every waiting change at once;
a batch refused for another reason is retried change by change."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.errors import LeaseLost, StoreUnavailable
from hub.relay.group_commit import GroupCommit


class FakeStore:
    def __init__(self, fail: BaseException | None, refuse: str = "") -> None:
        self.fail = fail
        self.refuse = refuse
        self.calls: list[list[Any]] = []

    async def update_deliveries(self, updates: list[Any]) -> None:
        self.calls.append(list(updates))
        if self.fail is not None and (len(updates) > 1 or updates[0] == self.refuse):
            raise self.fail


async def _save_all(store: FakeStore, updates: list[str]) -> list[BaseException | None]:
    commit = GroupCommit(store)  # type: ignore[arg-type]
    writer = asyncio.create_task(commit.run())
    try:
        results = await asyncio.gather(
            *(commit.save(u) for u in updates),  # type: ignore[arg-type]
            return_exceptions=True,
        )
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
    return list(results)


async def test_a_store_that_is_down_fails_every_waiting_change_in_one_try() -> None:
    down = StoreUnavailable("the hub's PostgreSQL store cannot be reached")
    store = FakeStore(down)
    results = await _save_all(store, ["a", "b", "c"])
    assert results == [down, down, down]
    assert store.calls == [["a", "b", "c"]]


@pytest.mark.parametrize("refused", ["b"])
async def test_one_refused_change_does_not_fail_the_others(refused: str) -> None:
    lost = LeaseLost("route r: another replica holds its lease now")
    store = FakeStore(lost, refuse=refused)
    results = await _save_all(store, ["a", "b", "c"])
    assert results == [None, lost, None]
    assert store.calls == [["a", "b", "c"], ["a"], ["b"], ["c"]]
