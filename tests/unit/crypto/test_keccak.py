"""Keccak-256 (tonglian_proof/crypto/keccak.py): eth-hash's digest, from any thread."""

from __future__ import annotations

import random
import threading

from eth_hash.auto import keccak as eth_keccak

from tonglian_proof.crypto.keccak import keccak256


def test_known_digests() -> None:
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert keccak256(b"abc").hex() == (
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    )


def test_same_digest_as_eth_hash_for_every_length_and_kind() -> None:
    rng = random.Random(3)
    for n in [*range(300), 1000, 4096, 100_000]:
        data = rng.randbytes(n)
        assert keccak256(data) == bytes(eth_keccak(data)), n
    assert keccak256(bytearray(b"abc")) == keccak256(memoryview(b"abc")) == keccak256(b"abc")


def test_threads_do_not_share_a_state() -> None:
    """cffi lets go of the GIL inside the C calls: each thread must hash on its own state."""
    rng = random.Random(4)
    inputs = [rng.randbytes(rng.randrange(1, 3000)) for _ in range(200)]
    expected = [bytes(eth_keccak(d)) for d in inputs]
    wrong: list[int] = []

    def work() -> None:
        for _ in range(20):
            for i, d in enumerate(inputs):
                if keccak256(d) != expected[i]:
                    wrong.append(i)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
