"""Watches that carry the same record at once share one verification (hub/verified_once.py)."""

from __future__ import annotations

import asyncio

import pytest

from hub import verified_once
from hub.verified_once import VerifiedOnce
from tonglian.v1 import adapter_pb2, chains_pb2, records_pb2

CHAIN = chains_pb2.Chain(chain_id="c-1")


def answer(key: str) -> adapter_pb2.ReadRecordResponse:
    out = adapter_pb2.ReadRecordResponse()
    out.record.ref.chain_id, out.record.ref.namespace, out.record.ref.key = "c-1", "n", key
    return out


class Verifier:
    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    async def __call__(
        self, chain: chains_pb2.Chain, got: adapter_pb2.ReadRecordResponse
    ) -> records_pb2.VerifiedRecord:
        self.calls += 1
        await asyncio.sleep(0.05)
        if self.fail:
            raise ValueError("proof rejected")
        return records_pb2.VerifiedRecord(record=got.record)


async def test_concurrent_watchers_share_one_verification_and_get_copies() -> None:
    once, verify = VerifiedOnce(), Verifier()
    got = await asyncio.gather(*(once.get(CHAIN, answer("k"), verify) for _ in range(32)))
    assert verify.calls == 1
    assert {g.record.ref.key for g in got} == {"k"}
    got[0].record.ref.key = "changed"  # each watcher holds its own copy
    assert got[1].record.ref.key == "k"
    # A straggler within KEEP_SECONDS gets the kept answer; another record is verified.
    await once.get(CHAIN, answer("k"), verify)
    await once.get(CHAIN, answer("other"), verify)
    assert verify.calls == 2
    # Another chain with the same bytes is verified against its own anchors.
    await once.get(chains_pb2.Chain(chain_id="c-2"), answer("k"), verify)
    assert verify.calls == 3


async def test_answers_expire_and_failures_are_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    once, verify = VerifiedOnce(), Verifier()
    monkeypatch.setattr(verified_once, "KEEP_SECONDS", 0.0)
    await once.get(CHAIN, answer("k"), verify)
    await asyncio.sleep(0.01)
    await once.get(CHAIN, answer("k"), verify)
    assert verify.calls == 2
    failing = Verifier(fail=True)
    results = await asyncio.gather(
        *(once.get(CHAIN, answer("bad"), failing) for _ in range(3)), return_exceptions=True
    )
    assert [str(r) for r in results] == ["proof rejected"] * 3
    assert failing.calls == 1
    with pytest.raises(ValueError, match="proof rejected"):
        await once.get(CHAIN, answer("bad"), failing)
    assert failing.calls == 2


async def test_a_cancelled_watcher_does_not_cancel_the_others() -> None:
    once, verify = VerifiedOnce(), Verifier()
    first = asyncio.ensure_future(once.get(CHAIN, answer("k"), verify))
    second = asyncio.ensure_future(once.get(CHAIN, answer("k"), verify))
    await asyncio.sleep(0.01)
    first.cancel()
    assert (await second).record.ref.key == "k"
    assert verify.calls == 1
