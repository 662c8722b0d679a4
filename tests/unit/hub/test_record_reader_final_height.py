"""RecordReader.get on a chain where the hub decides finality (EVM endpoint quorum): the
adapter's read starts at the last trusted final height while the endpoints are asked,
and its answer is used only at the height their answer allows; a read of any other
height is done again (hub/records.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.errors import ChainUnreachable, InvalidInput, NotFound
from hub.records import RecordReader
from tonglian.v1 import adapter_pb2, chains_pb2, records_pb2

CHAIN = chains_pb2.Chain(chain_id="evm-1", kind=chains_pb2.CHAIN_KIND_EVM)


class Registry:
    async def get(self, chain_id: str) -> chains_pb2.Chain:
        return CHAIN


class Adapter:
    """Answers the record at any height, or NotFound at heights in `missing`."""

    def __init__(self) -> None:
        self.reads: list[int] = []
        self.missing: set[int] = set()
        self.started = asyncio.Event()

    async def read(self, namespace: str, key: str, height: int) -> adapter_pb2.ReadRecordResponse:
        self.reads.append(height)
        self.started.set()
        await asyncio.sleep(0)
        if height in self.missing:
            raise NotFound(f"no record {key!r} at block {height}")
        record = records_pb2.Record(
            ref=records_pb2.RecordRef(chain_id=CHAIN.chain_id, namespace=namespace, key=key),
            value=b"{}",
            block_height=height,
        )
        return adapter_pb2.ReadRecordResponse(
            record=record,
            proof=records_pb2.Proof(evm=records_pb2.EvmStorageProof(block_number=height)),
        )


class Router:
    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter

    async def adapter_for(self, chain: chains_pb2.Chain) -> Adapter:
        return self.adapter


class Verifier:
    """The endpoints' final height is `final` (or `failure` is raised); `wait_for_read`
    makes them answer only once the adapter's read has started."""

    def __init__(self, adapter: Adapter) -> None:
        self.final = 10
        self.hint = 0
        self.failure: Exception | None = None
        self.wait_for_read = False
        self.verified: list[int] = []
        self._adapter = adapter

    def final_hint(self, chain: chains_pb2.Chain) -> int:
        return self.hint

    async def final_height(self, chain: chains_pb2.Chain) -> int:
        if self.wait_for_read:
            await asyncio.wait_for(self._adapter.started.wait(), 5)
        if self.failure is not None:
            raise self.failure
        self.hint = self.final
        return self.final

    async def verify(
        self, chain: chains_pb2.Chain, record: Any, proof: records_pb2.Proof, at_height: int
    ) -> records_pb2.Verification:
        assert proof.evm.block_number == at_height
        self.verified.append(at_height)
        return records_pb2.Verification(verified=True, final_height=self.final)


class Signer:
    cert_pem = "test"

    def sign(self, statement: bytes) -> bytes:
        return b"signature"


@pytest.fixture
def parts() -> tuple[RecordReader, Adapter, Verifier]:
    adapter = Adapter()
    verifier = Verifier(adapter)
    reader = RecordReader(Registry(), Router(adapter), verifier, Signer())  # type: ignore[arg-type]
    return reader, adapter, verifier


REF = records_pb2.RecordRef(chain_id="evm-1", namespace="0xRegistry", key="k")


async def test_the_read_runs_beside_the_endpoints_question_once_a_height_is_known(
    parts: tuple[RecordReader, Adapter, Verifier],
) -> None:
    reader, adapter, verifier = parts
    first = await reader.get(REF, 0)
    assert adapter.reads == [10] and first.record.block_height == 10
    # The endpoints answer only after the read started: a read that waited for them
    # would time out here.
    verifier.wait_for_read = True
    adapter.started.clear()
    second = await reader.get(REF, 0)
    assert adapter.reads == [10, 10] and second.record.block_height == 10
    assert verifier.verified == [10, 10]


async def test_a_read_at_a_height_the_chain_moved_past_is_done_again_at_the_final_one(
    parts: tuple[RecordReader, Adapter, Verifier],
) -> None:
    reader, adapter, verifier = parts
    await reader.get(REF, 0)
    verifier.final = 12
    answer = await reader.get(REF, 0)
    assert adapter.reads == [10, 10, 12]
    assert answer.record.block_height == 12 and verifier.verified == [10, 12]
    # The early read's own failure does not count when its height is not the final one.
    verifier.final = 13
    adapter.missing = {12}
    answer = await reader.get(REF, 0)
    assert adapter.reads[-2:] == [12, 13] and answer.record.block_height == 13


async def test_the_early_read_s_failure_is_the_answer_at_the_final_height(
    parts: tuple[RecordReader, Adapter, Verifier],
) -> None:
    reader, adapter, _ = parts
    await reader.get(REF, 0)
    adapter.missing = {10}
    with pytest.raises(NotFound, match="no record 'k' at block 10"):
        await reader.get(REF, 0)
    assert adapter.reads == [10, 10]


async def test_a_height_past_the_final_one_is_refused_whatever_the_read_said(
    parts: tuple[RecordReader, Adapter, Verifier],
) -> None:
    reader, adapter, verifier = parts
    adapter.missing = {11}
    with pytest.raises(InvalidInput) as refused:
        await reader.get(REF, 11)
    assert str(refused.value) == (
        "block 11 of chain 'evm-1' is not final yet: the newest final block its trust "
        "anchor's endpoints agree on is 10"
    )
    answer = await reader.get(REF, 9)
    assert answer.record.block_height == 9 and verifier.verified == [9]
    assert adapter.reads == [11, 9]


async def test_endpoints_that_do_not_answer_fail_the_read(
    parts: tuple[RecordReader, Adapter, Verifier],
) -> None:
    reader, _, verifier = parts
    await reader.get(REF, 0)
    verifier.failure = ChainUnreachable("only 0 of 1 RPC endpoints reported their head")
    with pytest.raises(ChainUnreachable, match="only 0 of 1 RPC endpoints"):
        await reader.get(REF, 0)
    assert verifier.verified == [10]
