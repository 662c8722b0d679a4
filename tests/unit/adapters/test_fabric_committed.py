"""The cache of committed transactions a Fabric read fetched: bounded, expiring, exact by id."""

from __future__ import annotations

from adapters.fabric.committed import CommittedTxCache
from tonglian.v1 import records_pb2


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _answers(org: str) -> list[records_pb2.FabricQsccAnswer]:
    return [
        records_pb2.FabricQsccAnswer(msp_id=org, proposal_response=b"signed by " + org.encode())
    ]


def test_a_hit_returns_exactly_what_was_stored_for_that_transaction() -> None:
    cache = CommittedTxCache()
    cache.put("tx1", b"block-1", _answers("Org1MSP"))
    cache.put("tx2", b"block-2", _answers("Org2MSP"))
    hit = cache.get("tx1")
    assert hit is not None
    assert (hit.block, list(hit.answers)) == (b"block-1", _answers("Org1MSP"))
    assert cache.get("tx3") is None


def test_entries_expire() -> None:
    clock = Clock()
    cache = CommittedTxCache(ttl_seconds=300, clock=clock)
    cache.put("tx1", b"block", _answers("Org1MSP"))
    clock.now += 300
    assert cache.get("tx1") is not None
    clock.now += 0.001
    assert cache.get("tx1") is None
    assert len(cache) == 0


def test_bounded_by_count_and_by_bytes_least_recently_used_first() -> None:
    cache = CommittedTxCache(max_entries=2, max_bytes=10)
    cache.put("a", b"1234", [])
    cache.put("b", b"1234", [])
    assert cache.get("a") is not None  # b is now the least recently used
    cache.put("c", b"12", [])
    assert (cache.get("a") is not None, cache.get("b"), cache.get("c") is not None) == (
        True,
        None,
        True,
    )
    cache.put("d", b"123456789", [])  # 9 bytes: only d fits beside nothing else
    assert [tx for tx in "acd" if cache.get(tx) is not None] == ["d"]
    cache.put("huge", b"x" * 11, [])  # larger than the whole budget: not kept
    assert cache.get("huge") is None and cache.get("d") is not None


def test_storing_again_replaces_and_counts_bytes_once() -> None:
    cache = CommittedTxCache(max_entries=10, max_bytes=8)
    cache.put("a", b"1234", [])
    cache.put("a", b"1234", [])
    cache.put("b", b"1234", [])
    assert cache.get("a") is not None and cache.get("b") is not None
