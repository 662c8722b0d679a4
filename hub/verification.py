"""Runs the pure verifiers off the event loop and gathers the facts they need first.

Signature checks are CPU work: they run in a process pool so one heavy proof
never stalls other calls. Facts a proof cannot carry itself (the trusted
header of an EVM chain, from k of n RPC endpoints) are fetched here, by the hub,
never taken from the adapter.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from google.protobuf.timestamp_pb2 import Timestamp

from hub.errors import ProofRejected
from hub.lifeline import bind_to_parent, lean_spawn
from hub.verify import PROOF_KIND_OF_CHAIN, verify_proof
from tonglian.v1 import chains_pb2, records_pb2

if TYPE_CHECKING:
    from hub.verify.evm import TrustedEvmHeader

# Records per trip to the verification pool (see Verifier.verify_batch).
BATCH = 64


class Verifier:
    """Verifies records for the services; one per hub."""

    def __init__(self, workers: int, oracle_timeout: float = 10.0) -> None:
        self._executor: Executor
        if workers > 0:
            # Workers bind their life to the hub's, so a killed hub leaves none behind;
            # they all start here (one per warm-up call), lean, in the calling thread.
            with lean_spawn():
                self._executor = ProcessPoolExecutor(
                    max_workers=workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=bind_to_parent,
                    initargs=(os.getpid(),),
                )
                # Start the workers now, in the background: a spawned worker imports the
                # verifiers (about a second), which the first records would otherwise wait
                # for.
                for _ in range(workers):
                    self._executor.submit(_warm)
        else:
            self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify")
        self._oracle_timeout = oracle_timeout

    async def verify(
        self, chain: chains_pb2.Chain, record: records_pb2.Record, proof: records_pb2.Proof
    ) -> records_pb2.Verification:
        """Verifies one record of `chain`; raises hub.errors.ProofRejected when it fails.

        For EVM chains the endpoint attestations are written into `proof`.
        """
        evm_header = await self._evm_header(chain, proof)
        loop = asyncio.get_running_loop()
        checks = await loop.run_in_executor(
            self._executor, verify_proof, record, proof, chain.trust_anchor, evm_header
        )
        verified_at = Timestamp()
        verified_at.FromDatetime(datetime.now(UTC))
        return records_pb2.Verification(
            verified=True,
            proof_kind=PROOF_KIND_OF_CHAIN.get(chain.kind, "unknown"),
            checks=checks,
            verified_at=verified_at,
        )

    async def verify_batch(
        self,
        chain: chains_pb2.Chain,
        items: Sequence[tuple[records_pb2.Record, records_pb2.Proof]],
    ) -> list[records_pb2.Verification | ProofRejected]:
        """Verifies many records of `chain` (a scanned block's), one result per record in
        order: its Verification, or the ProofRejected saying why it failed. Other
        errors raise. Records go to the pool BATCH at a time, so the pool's cost per
        call (pickling, two pipe hops, a wake-up of the loop) is paid per batch, not
        per record: per record it cost more than the signature checks themselves."""
        slots: list[records_pb2.Verification | ProofRejected | None] = [None] * len(items)
        todo: list[tuple[int, records_pb2.Record, records_pb2.Proof, TrustedEvmHeader | None]] = []
        headers = await asyncio.gather(
            *(self._evm_header(chain, proof) for _, proof in items), return_exceptions=True
        )
        for i, ((record, proof), header) in enumerate(zip(items, headers, strict=True)):
            if isinstance(header, ProofRejected):
                slots[i] = header
            elif isinstance(header, BaseException):
                raise header
            else:
                todo.append((i, record, proof, header))
        loop = asyncio.get_running_loop()
        chunks = [todo[n : n + BATCH] for n in range(0, len(todo), BATCH)]
        answers = await asyncio.gather(
            *(
                loop.run_in_executor(
                    self._executor,
                    _verify_each,
                    [(r, p, h) for _, r, p, h in chunk],
                    chain.trust_anchor,
                )
                for chunk in chunks
            )
        )
        kind = PROOF_KIND_OF_CHAIN.get(chain.kind, "unknown")
        for chunk, answer in zip(chunks, answers, strict=True):
            for (i, *_), result in zip(chunk, answer, strict=True):
                if isinstance(result, str):
                    slots[i] = ProofRejected(result)
                    continue
                verified_at = Timestamp()
                verified_at.FromDatetime(datetime.now(UTC))
                slots[i] = records_pb2.Verification(
                    verified=True, proof_kind=kind, checks=result, verified_at=verified_at
                )
        return [s for s in slots if s is not None]

    async def _evm_header(
        self, chain: chains_pb2.Chain, proof: records_pb2.Proof
    ) -> TrustedEvmHeader | None:
        if proof.WhichOneof("kind") != "evm" or not chain.trust_anchor.HasField("evm"):
            return None
        anchor = chain.trust_anchor.evm
        if anchor.consensus == chains_pb2.EVM_CONSENSUS_QBFT:
            # Validator seals in the header carry the trust; nothing to fetch.
            from hub.verify.evm_qbft import trusted_from_qbft_seals

            return trusted_from_qbft_seals(proof.evm, anchor)
        from hub.oracles.evm_headers import attest_header

        trusted = await attest_header(anchor, proof.evm.block_number, self._oracle_timeout)
        # What the endpoints said travels in the bundle, for offline re-verification;
        # whatever the adapter put there is not the hub's word and is replaced.
        del proof.evm.attestations[:]
        proof.evm.attestations.extend(trusted.attestations)
        return trusted

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _warm() -> None:
    """Runs in a pool worker at start: imports every verifier."""
    import hub.verify.evm
    import hub.verify.fabric
    import hub.verify.signed_merkle  # noqa: F401


def _verify_each(
    items: list[tuple[records_pb2.Record, records_pb2.Proof, TrustedEvmHeader | None]],
    anchor: chains_pb2.TrustAnchor,
) -> list[list[str] | str]:
    """Runs in a pool worker: each record's checks, or the reason its proof failed."""
    out: list[list[str] | str] = []
    for record, proof, header in items:
        try:
            out.append(verify_proof(record, proof, anchor, header))
        except ProofRejected as exc:
            out.append(exc.reason)
    return out
