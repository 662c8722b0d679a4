"""A destination block that comes while a delivery's own task is still storing its
SUBMITTED state must not be missed: the destination may make no further block, and
the delivery would then wait for the 10 s fallback (seen in the relay benchmark).

Real SQLite store and audit log; the destination is an in-memory chain whose blocks
the test makes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.relay.deliverer import CONFIRM_FALLBACK, Deliverer
from hub.relay.notifier import DeliveryNotifier
from hub.relay.retry import RetryPolicy
from tonglian.v1 import adapter_pb2, chains_pb2

from .test_relay_audit_atomic import add_route, delivery, open_store

S = adapter_pb2


class QuietChain:
    """Makes a block only when told to; a block includes every submission before it."""

    follows_final_heights = True
    chain = chains_pb2.Chain(chain_id="dst")

    def __init__(self, checks_many: bool = False) -> None:
        self.checks_many = checks_many
        self.batches: list[list[str]] = []
        self.height = 0
        self.included: dict[str, int] = {}
        self.submitted: list[str] = []
        self.new_block = asyncio.Condition()
        # The block made just after this delivery's submission is answered.
        self.block_after: str = ""

    async def make_block(self) -> None:
        async with self.new_block:
            self.height += 1
            for delivery_id in self.submitted:
                self.included.setdefault(delivery_id, self.height)
            self.new_block.notify_all()

    async def submit(self, d: Any) -> adapter_pb2.Submission:
        self.submitted.append(d.delivery_id)
        if d.delivery_id == self.block_after:
            # Made while the deliverer stores the answer below: before the delivery
            # waits for a block, after it was sent.
            asyncio.get_running_loop().call_soon(asyncio.ensure_future, self.make_block())
        return S.Submission(delivery_id=d.delivery_id, state=S.SUBMISSION_STATE_PENDING)

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        height = self.included.get(delivery_id)
        if height is None:
            return S.Submission(delivery_id=delivery_id, state=S.SUBMISSION_STATE_PENDING)
        return S.Submission(
            delivery_id=delivery_id,
            state=S.SUBMISSION_STATE_CONFIRMED,
            tx_id=f"t{height}",
            block_height=height,
        )

    async def submissions(self, delivery_ids: list[str]) -> list[adapter_pb2.Submission]:
        self.batches.append(list(delivery_ids))
        return [await self.submission(delivery_id) for delivery_id in delivery_ids]

    async def final_heights(self, from_height: int) -> AsyncIterator[int]:
        seen = -1
        while True:
            async with self.new_block:
                await self.new_block.wait_for(lambda last=seen: self.height != last)
                seen = self.height
            yield seen

    async def adapter(self, chain_id: str) -> QuietChain:
        return self


@pytest.mark.parametrize("checks_many", [False, True], ids=["one_by_one", "in_batches"])
async def test_block_while_storing_the_submission_is_not_missed(
    tmp_path: Path, checks_many: bool
) -> None:
    store, audit = await open_store(tmp_path / "hub.sqlite3")
    await add_route(store)
    first, second = delivery("k0"), delivery("k1")
    assert await store.commit_block("r", [first, second], 1, b"h1")
    chain = QuietChain(checks_many)
    chain.block_after = second.delivery_id  # and no block after that one
    chains: Any = chain
    deliverer = Deliverer(
        store, chains, DeliveryNotifier(), asyncio.Event(), RetryPolicy(), audit,
        concurrency=1,
    )  # fmt: skip
    task = asyncio.create_task(deliverer.run())
    started = time.monotonic()
    try:
        for _ in range(int(CONFIRM_FALLBACK / 0.02)):
            if not await store.count_unconfirmed():
                break
            await asyncio.sleep(0.02)
        waited = time.monotonic() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert chain.height == 1, "the test made one block only"
    assert await store.count_unconfirmed() == 0
    assert waited < CONFIRM_FALLBACK / 2, f"confirmed after {waited:.1f}s: the block was missed"
    if checks_many:  # the confirmations came from batch checks
        assert chain.batches and {i for b in chain.batches for i in b} == {
            first.delivery_id,
            second.delivery_id,
        }
    await store.close()
