"""Runs the pure verifiers off the event loop and gathers the facts they need first.

Signature checks are CPU work: they run in a process pool so one heavy proof
never stalls other calls. Facts a proof cannot carry itself (the trusted
header of an EVM chain, from k of n RPC endpoints) are fetched here, by the hub,
never taken from the adapter.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from google.protobuf.timestamp_pb2 import Timestamp

from hub.verify import PROOF_KIND_OF_CHAIN, verify_proof
from tonglian.v1 import chains_pb2, records_pb2

if TYPE_CHECKING:
    from hub.verify.evm import TrustedEvmHeader


class Verifier:
    """Verifies records for the services; one per hub."""

    def __init__(self, workers: int, oracle_timeout: float = 10.0) -> None:
        self._executor: Executor
        if workers > 0:
            self._executor = ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn")
            )
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
