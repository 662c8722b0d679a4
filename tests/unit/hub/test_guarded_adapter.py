"""The hub's guard around untrusted adapters, with fake adapters (unit test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters import base
from hub.errors import (
    AdapterMisbehaved,
    ChainMisconfigured,
    ChainUnreachable,
    DeliveryRefused,
    FailedPrecondition,
    InvalidInput,
    NotFound,
)
from hub.guarded_adapter import GuardedAdapter
from tonglian.v1 import adapter_pb2, chains_pb2, records_pb2, relay_pb2


def answer(
    chain_id: str = "c1", namespace: str = "ns", key: str = "k", proof: bool = True
) -> adapter_pb2.ReadRecordResponse:
    resp = adapter_pb2.ReadRecordResponse(
        record=records_pb2.Record(
            ref=records_pb2.RecordRef(chain_id=chain_id, namespace=namespace, key=key)
        )
    )
    if proof:
        resp.proof.signed_merkle.leaf_index = 0
    return resp


class FakeAdapter:
    def __init__(self, behaviour: Any) -> None:
        self.behaviour = behaviour

    async def _act(self) -> Any:
        b = self.behaviour
        if b == "hang":
            await asyncio.sleep(60)
        if isinstance(b, BaseException):
            raise b
        return b

    async def describe(self) -> adapter_pb2.DescribeResponse:
        result: adapter_pb2.DescribeResponse = await self._act()
        return result

    async def head(self) -> chains_pb2.ChainHead:
        result: chains_pb2.ChainHead = await self._act()
        return result

    async def read(
        self, namespace: str, key: str, at_height: int = 0
    ) -> adapter_pb2.ReadRecordResponse:
        result: adapter_pb2.ReadRecordResponse = await self._act()
        return result

    async def scan(
        self, namespace: str, from_height: int, to_height: int = 0, follow: bool = False
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        yield adapter_pb2.ScanResponse(record=await self._act())

    async def submit(self, delivery: relay_pb2.Delivery) -> adapter_pb2.Submission:
        result: adapter_pb2.Submission = await self._act()
        return result

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        result: adapter_pb2.Submission = await self._act()
        return result

    async def close(self) -> None:
        return None


def guard(behaviour: Any, timeout: float = 0.2) -> GuardedAdapter:
    chain = chains_pb2.Chain(chain_id="c1")
    chain.adapter.adapter = "fake"
    return GuardedAdapter(chain, FakeAdapter(behaviour), timeout)


async def test_good_answer_passes() -> None:
    got = await guard(answer()).read("ns", "k")
    assert got.record.ref.key == "k"


@pytest.mark.parametrize(
    ("behaviour", "error", "message"),
    [
        (
            "hang",
            ChainUnreachable,
            "adapter 'fake' of chain 'c1' did not answer read of ns/k within 0.2s",
        ),
        (base.RecordNotFound("no record ns/k"), NotFound, "no record ns/k (chain 'c1')"),
        (
            base.ChainUnavailable("connection refused"),
            ChainUnreachable,
            "chain 'c1' is unreachable: connection refused",
        ),
        (base.InvalidAdapterRequest("key too long"), InvalidInput, "key too long"),
        (
            base.SubmissionRejected("inbox closed"),
            DeliveryRefused,
            "chain 'c1' refused the delivery: inbox closed",
        ),
        (
            base.AdapterMisconfigured("url missing"),
            ChainMisconfigured,
            "adapter 'fake' of chain 'c1' is misconfigured: url missing",
        ),
        (
            ValueError("boom"),
            AdapterMisbehaved,
            "adapter 'fake' of chain 'c1' crashed during read of ns/k: ValueError: boom",
        ),
        ("garbage", AdapterMisbehaved, "adapter 'fake' of chain 'c1' answered with str"),
        (
            answer(key="other"),
            AdapterMisbehaved,
            "adapter 'fake' of chain 'c1' returned key 'other' for 'k'",
        ),
        (
            answer(chain_id="c2"),
            AdapterMisbehaved,
            "adapter 'fake' of chain 'c1' returned a record of chain 'c2'",
        ),
        (
            answer(namespace="x"),
            AdapterMisbehaved,
            "adapter 'fake' of chain 'c1' returned namespace 'x' for 'ns'",
        ),
        (
            answer(proof=False),
            AdapterMisbehaved,
            "adapter 'fake' of chain 'c1' returned 'k' without a proof",
        ),
    ],
)
async def test_read_failures(behaviour: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as err:
        await guard(behaviour).read("ns", "k")
    assert str(err.value) == message


async def test_head_above_final_is_refused() -> None:
    with pytest.raises(AdapterMisbehaved, match="reported final height 9 above head 3"):
        await guard(chains_pb2.ChainHead(height=3, final_height=9)).head()


async def test_scan_checks_every_record() -> None:
    with pytest.raises(AdapterMisbehaved, match="returned namespace 'x' for 'ns'"):
        async for _ in guard(answer(namespace="x")).scan("ns", 0):
            pass


class NoSubmit(FakeAdapter):
    """Says it cannot submit, yet would accept a submit: the hub must never call it."""

    def __init__(self) -> None:
        super().__init__(adapter_pb2.DescribeResponse(adapter="nosubmit/1", can_submit=False))
        self.submitted = 0

    async def submit(self, delivery: relay_pb2.Delivery) -> adapter_pb2.Submission:
        self.submitted += 1
        return adapter_pb2.Submission(state=adapter_pb2.SUBMISSION_STATE_CONFIRMED)


async def test_never_submits_through_an_adapter_that_says_it_cannot() -> None:
    fake = NoSubmit()
    chain = chains_pb2.Chain(chain_id="c1", adapter=chains_pb2.AdapterSettings(adapter="x"))
    guarded = GuardedAdapter(chain, fake, timeout=1)
    with pytest.raises(FailedPrecondition) as raised:
        await guarded.submit(relay_pb2.Delivery(delivery_id="d1"))
    assert str(raised.value).startswith(
        "chain 'c1' cannot receive deliveries: its adapter 'x' says can_submit = false"
    )
    assert fake.submitted == 0


class ManyAnswers(FakeAdapter):
    """An adapter that answers many status questions at once (its answer is the
    behaviour)."""

    async def submissions(self, delivery_ids: list[str]) -> list[adapter_pb2.Submission]:
        result: list[adapter_pb2.Submission] = await self._act()
        return result


def sub(delivery_id: str) -> adapter_pb2.Submission:
    return adapter_pb2.Submission(
        delivery_id=delivery_id, state=adapter_pb2.SUBMISSION_STATE_CONFIRMED
    )


def guard_many(behaviour: Any) -> GuardedAdapter:
    chain = chains_pb2.Chain(chain_id="c1")
    chain.adapter.adapter = "fake"
    return GuardedAdapter(chain, ManyAnswers(behaviour), timeout=0.2)


async def test_many_submissions_in_order_pass() -> None:
    guarded = guard_many([sub("a"), sub("b")])
    assert guarded.checks_many and not guard(None).checks_many
    got = await guarded.submissions(["a", "b"])
    assert [s.delivery_id for s in got] == ["a", "b"]


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ([sub("a")], "adapter 'fake' of chain 'c1' answered 1 submissions for 2 deliveries"),
        ((sub("a"), sub("b")), "adapter 'fake' of chain 'c1' answered tuple submissions for 2"),
        (
            [sub("b"), sub("a")],
            "adapter 'fake' of chain 'c1' answered about 'b' when asked about 'a'",
        ),
        ([sub("a"), "b"], "adapter 'fake' of chain 'c1' answered with str about 'b'"),
    ],
)
async def test_many_submissions_must_answer_each_question(behaviour: Any, message: str) -> None:
    with pytest.raises(AdapterMisbehaved) as raised:
        await guard_many(behaviour).submissions(["a", "b"])
    assert str(raised.value).startswith(message)
    assert raised.value.metadata == {"chain_id": "c1"}


async def test_many_submissions_through_an_adapter_that_cannot() -> None:
    with pytest.raises(FailedPrecondition) as raised:
        await guard(None).submissions(["a"])
    assert (
        str(raised.value) == "adapter 'fake' of chain 'c1' cannot ask about many deliveries at once"
    )


async def test_many_submissions_unreachable_is_chain_unreachable() -> None:
    with pytest.raises(ChainUnreachable) as raised:
        await guard_many("hang").submissions(["a"])
    assert str(raised.value) == (
        "adapter 'fake' of chain 'c1' did not answer status of 1 deliveries within 0.2s"
    )
