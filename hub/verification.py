"""Runs the pure verifiers where they are cheapest and gathers the facts they need first.

Where, measured on the benchmark machine (2 shared cores, `bench/custom_query.py`
and a bare `run_in_executor` loop): a round trip through the spawn process pool
costs 0.5 ms at p50 and 6 ms at p99 for an empty task, before pickling the record,
proof and anchor (a Fabric anchor carries its whole config block) and before the
worker's own caches warm up; verifying one signed-Merkle or EVM proof in the hub's
process costs 0.1-0.3 ms once its header is cached (k Ed25519 checks, 0.3 ms, when
not), a Fabric transaction about 1 ms. So a single record (`verify`, the query
path) whose proof is at most INLINE_MAX_BYTES is verified in the hub's process,
where the verified-header caches also live; batches (`verify_batch`: relay scans,
Fabric blocks) and larger proofs go to the pool, so a heavy scan never stalls
other calls. Until the pool's workers have started (they import the verifiers in
the background, a second or more), everything is verified in process.

Facts a proof cannot carry itself (the trusted header of an EVM chain, from k of
n RPC endpoints) are fetched here, by the hub, never taken from the adapter.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from google.protobuf.timestamp_pb2 import Timestamp

from hub.errors import ProofRejected
from hub.lifeline import lean_spawn, pool_worker
from hub.observability.tracing import span
from hub.observability.verifications import counted, verifying
from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.verify import PROOF_KIND_OF_CHAIN, verify_proof
from tonglian_proof.verify.verified_cache import VerifiedCache

if TYPE_CHECKING:
    import aiohttp

    from tonglian_proof.verify.evm import TrustedEvmHeader

# Records per trip to the verification pool (see Verifier.verify_batch).
BATCH = 64
# A single record's proof up to this size is verified in process (module docstring).
INLINE_MAX_BYTES = 256 * 1024


class Verifier:
    """Verifies records for the services; one per hub."""

    def __init__(self, workers: int, oracle_timeout: float = 10.0) -> None:
        self._executor: Executor
        self._warming: list[Future[None]] = []
        self._http: aiohttp.ClientSession | None = None
        # EVM block hashes k endpoints attested, by (anchor, height), final blocks only.
        self._attested: VerifiedCache[TrustedEvmHeader] = VerifiedCache(4096)
        # The newest final height the endpoints agreed on, per chain id (final_hint).
        self._last_final: dict[str, int] = {}
        if workers > 0:
            # Workers bind their life to the hub's, so a killed hub leaves none behind;
            # they all start here (one per warm-up call), lean, in the calling thread.
            with lean_spawn():
                self._executor = ProcessPoolExecutor(
                    max_workers=workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=pool_worker,
                    initargs=(os.getpid(),),
                )
                # Start the workers now, in the background: a spawned worker imports the
                # verifiers (about a second), which the first records would otherwise wait
                # for.
                self._warming = [self._executor.submit(_warm) for _ in range(workers)]
        else:
            self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify")
        self._oracle_timeout = oracle_timeout

    async def final_height(self, chain: chains_pb2.Chain) -> int:
        """The newest final block of `chain` by the hub's own trust, or 0 when its proofs
        carry their own finality (seals, signatures) and the adapter may pick the block.

        For EVM endpoint-quorum chains it is the lowest head the anchor's endpoints
        agree on minus the finality depth: a latest read is answered at this block,
        never at one an adapter's node calls final.
        """
        anchor = chain.trust_anchor
        if (
            not anchor.HasField("evm")
            or anchor.evm.consensus != chains_pb2.EVM_CONSENSUS_ENDPOINT_QUORUM
        ):
            return 0
        from hub.oracles.evm_headers import trusted_head

        head = await trusted_head(anchor.evm, self._oracle_timeout, session=self._session())
        self._last_final[chain.chain_id] = head.final_height
        return head.final_height

    def final_hint(self, chain: chains_pb2.Chain) -> int:
        """The final height `final_height` last gave for `chain` (0: none yet, or a chain
        whose proofs carry their own finality): a guess to start a read at while the
        endpoints are asked, worth nothing until they confirm it."""
        return self._last_final.get(chain.chain_id, 0)

    def _session(self) -> aiohttp.ClientSession:
        """One HTTP session for the oracle's questions, so its connections to the
        endpoints are reused (a session per question paid a TCP connect each time)."""
        if self._http is None or self._http.closed:
            import aiohttp  # here: a hub without EVM chains starts without it

            self._http = aiohttp.ClientSession()
        return self._http

    async def verify(
        self,
        chain: chains_pb2.Chain,
        record: records_pb2.Record,
        proof: records_pb2.Proof,
        at_height: int = 0,
    ) -> records_pb2.Verification:
        """Verifies one record of `chain`; raises hub.errors.ProofRejected when it fails.

        `at_height`, when set, is the block the hub asked the adapter to prove the
        record at; an EVM proof at any other block is refused. For EVM chains the
        endpoint attestations are written into `proof`.
        """
        if at_height and proof.WhichOneof("kind") == "evm" and proof.evm.block_number != at_height:
            raise ProofRejected(
                f"the adapter proved the record at block {proof.evm.block_number}, the hub "
                f"asked for block {at_height} (the newest final block it trusts, or the "
                "height requested)"
            )
        with verifying(PROOF_KIND_OF_CHAIN.get(chain.kind, "unknown"), chain.chain_id):
            evm_header = await self._evm_header(chain, proof)
            if not self.pool_ready() or proof.ByteSize() <= INLINE_MAX_BYTES:
                checks = verify_proof(record, proof, chain.trust_anchor, evm_header)
            else:
                loop = asyncio.get_running_loop()
                checks = await loop.run_in_executor(
                    self._executor, verify_proof, record, proof, chain.trust_anchor, evm_header
                )
        return _verification(chain, checks, evm_header)

    def pool_ready(self) -> bool:
        """Whether every pool worker has started and imported the verifiers."""
        return all(f.done() for f in self._warming)

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
        kind = PROOF_KIND_OF_CHAIN.get(chain.kind, "unknown")
        started = time.perf_counter()
        with span("verify.batch", kind=kind, chain=chain.chain_id, records=len(items)):
            results = await self._verify_batch(chain, items)
        rejected = sum(isinstance(r, ProofRejected) for r in results)
        counted(kind, len(results) - rejected, rejected, time.perf_counter() - started)
        return results

    async def _verify_batch(
        self,
        chain: chains_pb2.Chain,
        items: Sequence[tuple[records_pb2.Record, records_pb2.Proof]],
    ) -> list[records_pb2.Verification | ProofRejected]:
        slots: list[records_pb2.Verification | ProofRejected | None] = [None] * len(items)
        todo: list[tuple[int, records_pb2.Record, records_pb2.Proof, TrustedEvmHeader | None]] = []
        headers = await asyncio.gather(
            *(self._evm_header(chain, proof) for _, proof in items), return_exceptions=True
        )
        trusted: dict[int, TrustedEvmHeader | None] = {}
        for i, ((record, proof), header) in enumerate(zip(items, headers, strict=True)):
            if isinstance(header, ProofRejected):
                slots[i] = header
            elif isinstance(header, BaseException):
                raise header
            else:
                trusted[i] = header
                todo.append((i, record, proof, header))
        loop = asyncio.get_running_loop()
        chunks = [todo[n : n + BATCH] for n in range(0, len(todo), BATCH)]
        # Before the workers are up, a thread of this process does the batch.
        executor = self._executor if self.pool_ready() else None
        answers = await asyncio.gather(
            *(
                loop.run_in_executor(
                    executor,
                    _verify_each,
                    [(r, p, h) for _, r, p, h in chunk],
                    chain.trust_anchor,
                )
                for chunk in chunks
            )
        )
        for chunk, answer in zip(chunks, answers, strict=True):
            for (i, *_), result in zip(chunk, answer, strict=True):
                if isinstance(result, str):
                    slots[i] = ProofRejected(result)
                    continue
                slots[i] = _verification(chain, result, trusted[i])
        return [s for s in slots if s is not None]

    async def _evm_header(
        self, chain: chains_pb2.Chain, proof: records_pb2.Proof
    ) -> TrustedEvmHeader | None:
        if proof.WhichOneof("kind") != "evm" or not chain.trust_anchor.HasField("evm"):
            return None
        anchor = chain.trust_anchor.evm
        if anchor.consensus == chains_pb2.EVM_CONSENSUS_QBFT:
            # Validator seals in the header carry the trust; nothing to fetch.
            from tonglian_proof.verify.evm_qbft import trusted_from_qbft_seals

            return trusted_from_qbft_seals(proof.evm, anchor)
        from hub.oracles.evm_headers import attest_header

        key = (anchor.SerializeToString(deterministic=True), proof.evm.block_number)
        trusted = self._attested.get(key)
        if trusted is None:
            trusted = await attest_header(
                anchor, proof.evm.block_number, self._oracle_timeout, session=self._session()
            )
            # Only a block final by the anchor's own rule is kept: its hash cannot change.
            if trusted.head_number - anchor.finality_depth >= trusted.block_number:
                self._attested.put(key, trusted)
        # What the endpoints said travels in the bundle, for offline re-verification;
        # whatever the adapter put there is not the hub's word and is replaced.
        del proof.evm.attestations[:]
        proof.evm.attestations.extend(trusted.attestations)
        return trusted

    def forget(self, chain: chains_pb2.Chain) -> None:
        """Drops what was learnt under `chain`'s trust anchor: the chain was removed or
        registered anew, here or on another replica (ChainRegistry.on_forget)."""
        self._last_final.pop(chain.chain_id, None)
        if chain.trust_anchor.HasField("evm"):
            # Keyed on the anchor, so an entry cannot answer for the new one; dropped all
            # the same, so nothing learnt under the old trust outlives it.
            self._attested.clear()
            from hub.oracles.evm_headers import forget_anchor

            forget_anchor(chain.trust_anchor.evm)

    async def close_connections(self) -> None:
        if self._http is not None:
            await self._http.close()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _verification(
    chain: chains_pb2.Chain, checks: list[str], evm_header: TrustedEvmHeader | None
) -> records_pb2.Verification:
    """What the hub checked, when, and the final height it checked against."""
    verified_at = Timestamp()
    verified_at.FromDatetime(datetime.now(UTC))
    final_height = 0
    if evm_header is not None:
        final_height = max(evm_header.head_number - chain.trust_anchor.evm.finality_depth, 0)
    return records_pb2.Verification(
        verified=True,
        proof_kind=PROOF_KIND_OF_CHAIN.get(chain.kind, "unknown"),
        checks=checks,
        verified_at=verified_at,
        final_height=final_height,
    )


def _warm() -> None:
    """Runs in a pool worker at start: imports every verifier."""
    import tonglian_proof.verify.evm
    import tonglian_proof.verify.fabric
    import tonglian_proof.verify.signed_merkle  # noqa: F401


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
