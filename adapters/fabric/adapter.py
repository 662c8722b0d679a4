"""FabricAdapter: the Adapter protocol for one Fabric channel and its `records` chaincode.

Reads find the transaction that last wrote a key (chaincode `history`, then
qscc GetBlockByTxID) and return the full block plus signed qscc answers from
peers of the attesting organisations. Scans follow committed blocks through
Deliver (Fabric blocks are final once committed). Submissions invoke the
chaincode's `deliver`, which applies each delivery id once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import DecodeError

from adapters.base import (
    AdapterContext,
    AdapterError,
    ChainUnavailable,
    InvalidAdapterRequest,
    RecordNotFound,
    SubmissionRejected,
)
from adapters.fabric import blocks, qscc, requests
from adapters.fabric.committed import CommittedTxCache
from adapters.fabric.discovery import DiscoveryView, read_view
from adapters.fabric.errors import (
    EndorseError,
    EvaluateError,
    FabricCallError,
    MalformedAnswer,
    PeerUnavailable,
    TransactionInvalid,
)
from adapters.fabric.gateway import PeerConnection
from adapters.fabric.identity import Identity
from adapters.fabric.options import FabricAdapterOptions
from adapters.fabric.proposal import SignedProposal, build_proposal
from adapters.fabric.protos import (
    Message,
    common_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from adapters.fabric.signer import Signer
from tonglian.v1 import adapter_pb2, chains_pb2, records_pb2, relay_pb2
from tonglian_proof.canonical import canonical_json

ADAPTER_NAME = "fabric/0.1.0"
DELIVER_STATUS_SUCCESS = 200
# A scanned block's transactions whose attestations are asked for at once.
ATTESTING = 32
MVCC_CODES = {
    transaction_pb2.TxValidationCode.MVCC_READ_CONFLICT,
    transaction_pb2.TxValidationCode.PHANTOM_READ_CONFLICT,
}
T = TypeVar("T")


@dataclass(frozen=True)
class Committed:
    """A transaction the adapter submitted, committed VALID."""

    tx_id: str
    block_number: int
    result: bytes


def chaincode_result(envelope: Message) -> Message:
    """The chaincode's response inside a prepared (endorsed) transaction."""
    try:
        payload = common_pb2.Payload.FromString(envelope.payload)
        tx = transaction_pb2.Transaction.FromString(payload.data)
        cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
        prp = proposal_response_pb2.ProposalResponsePayload.FromString(
            cap.action.proposal_response_payload
        )
        return proposal_pb2.ChaincodeAction.FromString(prp.extension).response
    except (DecodeError, IndexError) as exc:
        raise MalformedAnswer(f"prepared transaction does not decode: {exc}") from exc


class FabricAdapter:
    """One channel + chaincode, reached through the configured peers' gateways."""

    def __init__(
        self,
        ctx: AdapterContext,
        options: FabricAdapterOptions,
        identity: Identity,
        signer: Signer,
        peers: Sequence[PeerConnection],
    ) -> None:
        self._ctx = ctx
        self.options = options
        self.identity = identity
        self._signer = signer
        self._peers = list(peers)
        self._timeout = ctx.timeout
        self._committed = CommittedTxCache()

    # --- helpers ---------------------------------------------------------------------------

    @property
    def channel(self) -> str:
        return self.options.channel

    @property
    def chaincode(self) -> str:
        return self.options.chaincode

    @property
    def namespace(self) -> str:
        return f"{self.channel}:{self.chaincode}"

    def _peers_of(self, msp_id: str) -> list[PeerConnection]:
        return [p for p in self._peers if p.msp_id == msp_id]

    async def _first_reachable(
        self,
        call: Callable[[PeerConnection], asyncio.Future[T] | asyncio.Task[T] | object],
        peers: Sequence[PeerConnection] | None = None,
    ) -> T:
        """Runs `call` on the peers in order until one is reachable (gateway failover)."""
        last: PeerUnavailable | None = None
        for peer in peers if peers is not None else self._peers:
            try:
                result: T = await call(peer)  # type: ignore[misc]
                return result
            except PeerUnavailable as exc:
                last = exc
        assert last is not None
        raise last

    def _proposal(self, chaincode: str, args: Sequence[str]) -> SignedProposal:
        return build_proposal(
            self.identity, self._signer, channel=self.channel, chaincode=chaincode, args=args
        )

    def _check_namespace(self, namespace: str) -> None:
        if namespace != self.namespace:
            raise InvalidAdapterRequest(
                f"namespace {namespace!r} is not served here; this adapter serves "
                f"{self.namespace!r} (channel:chaincode)"
            )

    # --- chaincode calls -------------------------------------------------------------------

    async def evaluate(self, function: str, *args: str) -> bytes:
        """Evaluates a chaincode function (no ordering); its response payload."""
        proposal = self._proposal(self.chaincode, [function, *args])

        async def call(peer: PeerConnection) -> Message:
            return await peer.evaluate(
                proposal.tx_id, self.channel, proposal.message, [], self._timeout
            )

        response: Message = await self._first_reachable(call)
        return bytes(response.payload)

    async def submit_transaction(
        self, function: str, *args: str, endorsing_orgs: Sequence[str] | None = None
    ) -> Committed:
        """Endorses, submits and waits for the commit; TransactionInvalid unless VALID."""
        prepared, proposal = await self._endorse(function, args, endorsing_orgs)
        return await self._submit_and_wait(proposal, prepared)

    async def _endorse(
        self, function: str, args: Sequence[str], endorsing_orgs: Sequence[str] | None
    ) -> tuple[common_pb2.Envelope, SignedProposal]:
        proposal = self._proposal(self.chaincode, [function, *args])
        orgs = list(self.options.endorsing_orgs if endorsing_orgs is None else endorsing_orgs)

        async def call(peer: PeerConnection) -> Message:
            try:
                return await peer.endorse(
                    proposal.tx_id, self.channel, proposal.message, orgs, self._timeout
                )
            except EndorseError as exc:
                if exc.code != "FAILED_PRECONDITION":
                    raise
                raise await self._unplannable(peer, exc) from exc

        prepared: Message = await self._first_reachable(call)
        return prepared, proposal

    async def _unplannable(self, peer: PeerConnection, exc: EndorseError) -> Exception:
        """A gateway that could not plan an endorsement (FAILED_PRECONDITION): unavailable
        while its discovery misses a configured organisation's peer or has caught up since
        (a retry succeeds), refused for good when every peer is seen and the policy still
        cannot be met (the chaincode is not installed, or its policy names others)."""
        try:
            view = await self.discovery_view(peer)
        except (FabricCallError, PeerUnavailable, MalformedAnswer):
            return exc
        missing = view.missing(self.configured_orgs)
        if not view.policy_satisfiable and not missing:
            return exc
        why = (
            f"discovery at {peer.endpoint} sees no peer of {', '.join(sorted(missing))} yet"
            if missing
            else f"discovery at {peer.endpoint} has since found the endorsers"
        )
        return PeerUnavailable(
            exc.op, exc.endpoint, exc.code, f"{exc.grpc_message} ({why})", exc.details, exc.tx_id
        )

    @property
    def configured_orgs(self) -> frozenset[str]:
        """The organisations whose peers this adapter is configured with."""
        return frozenset(p.msp_id for p in self._peers)

    async def discovery_view(self, peer: PeerConnection | None = None) -> DiscoveryView:
        """What `peer`'s discovery (default: the first peer's) knows now of this chaincode."""
        peer = self._peers[0] if peer is None else peer
        request = requests.discovery_request(
            self.identity,
            self._signer,
            self.identity.certificate_der,
            self.channel,
            self.chaincode,
        )
        answer = await peer.discover(
            request, self.identity.certificate_pem, self._signer.private_pem(), self._timeout
        )
        return read_view(answer)

    async def ready_to_endorse(self) -> bool:
        """Every configured peer's gateway can plan an endorsement now (its discovery sees a
        peer of every configured organisation and finds endorsers that satisfy the policy)
        and this adapter's channel to it is connected, not waiting out a reconnect backoff.
        PeerUnavailable while a configured peer cannot be reached."""
        for peer in self._peers:
            view = await self.discovery_view(peer)
            if not view.policy_satisfiable or view.missing(self.configured_orgs):
                return False
        return all(peer.connected() for peer in self._peers)

    async def probe_endorsement(self, function: str = "get", *args: str) -> None:
        """Endorses (never submits) through each peer's gateway: ready when all succeed.

        A gateway that has not yet discovered every organisation's peer cannot
        satisfy a multi-organisation policy; this tells when they all can.
        """
        for peer in self._peers:
            proposal = self._proposal(self.chaincode, [function, *args])
            await peer.endorse(proposal.tx_id, self.channel, proposal.message, [], self._timeout)

    async def _submit_and_wait(self, proposal: SignedProposal, prepared: Message) -> Committed:
        signed = requests.sign_envelope(prepared, self._signer)
        status_request = requests.commit_status_request(
            self.identity, self._signer, self.channel, proposal.tx_id
        )

        async def call(peer: PeerConnection) -> Committed:
            await peer.submit(proposal.tx_id, self.channel, signed, self._timeout)
            status = await peer.commit_status(
                proposal.tx_id, status_request, self.options.commit_timeout
            )
            if status.result != transaction_pb2.TxValidationCode.VALID:
                raise TransactionInvalid(
                    proposal.tx_id,
                    transaction_pb2.TxValidationCode.Name(status.result),
                    int(status.block_number),
                )
            result = chaincode_result(prepared).payload
            return Committed(proposal.tx_id, int(status.block_number), bytes(result))

        committed: Committed = await self._first_reachable(call)
        return committed

    async def put(self, key: str, schema: str, value: bytes | dict[str, object]) -> Committed:
        """Writes one record through the chaincode's `put` and waits for its commit."""
        text = value.decode() if isinstance(value, bytes) else canonical_json(value).decode()
        return await self.submit_transaction("put", key, schema, text)

    async def events(self, start_block: int | None = None) -> AsyncIterator[tuple[int, Message]]:
        """Chaincode events of this chaincode (block number, event), through the gateway."""
        request = requests.chaincode_events_request(
            self.identity, self._signer, self.channel, self.chaincode, start_block
        )
        async for response in self._peers[0].chaincode_events(request):
            for event in response.events:
                yield int(response.block_number), event

    # --- qscc ------------------------------------------------------------------------------

    async def _qscc(self, peer: PeerConnection, function: str, *args: str) -> qscc.QsccAnswer:
        proposal = qscc.qscc_proposal(self.identity, self._signer, self.channel, function, *args)
        raw = await peer.process_proposal(proposal.message, proposal.tx_id, self._timeout)
        return qscc.read_answer(peer.msp_id, proposal, raw)

    async def _qscc_any(self, function: str, *args: str) -> qscc.QsccAnswer:
        async def call(peer: PeerConnection) -> qscc.QsccAnswer:
            return await self._qscc(peer, function, *args)

        answer: qscc.QsccAnswer = await self._first_reachable(call)
        return answer

    async def block_by_tx_id(self, tx_id: str) -> bytes:
        return (await self._qscc_any(qscc.GET_BLOCK_BY_TX_ID, tx_id)).payload

    async def block_by_number(self, number: int) -> bytes:
        return (await self._qscc_any(qscc.GET_BLOCK_BY_NUMBER, str(number))).payload

    async def attestations(self, tx_id: str) -> list[records_pb2.FabricQsccAnswer]:
        """Signed GetTransactionByID answers, one per attesting organisation."""

        async def of_org(msp_id: str) -> records_pb2.FabricQsccAnswer:
            async def call(peer: PeerConnection) -> qscc.QsccAnswer:
                return await self._qscc(peer, qscc.GET_TRANSACTION_BY_ID, tx_id)

            answer: qscc.QsccAnswer = await self._first_reachable(call, self._peers_of(msp_id))
            return records_pb2.FabricQsccAnswer(
                msp_id=answer.msp_id,
                signed_proposal=answer.signed_proposal,
                proposal_response=answer.proposal_response,
            )

        return list(await asyncio.gather(*(of_org(o) for o in self.options.attesting_orgs)))

    # --- Adapter protocol ------------------------------------------------------------------

    async def describe(self) -> adapter_pb2.DescribeResponse:
        return adapter_pb2.DescribeResponse(
            adapter=ADAPTER_NAME,
            kind=chains_pb2.CHAIN_KIND_FABRIC,
            network_id=self.channel,
            namespaces=[self.namespace],
            can_submit=True,
        )

    async def head(self) -> chains_pb2.ChainHead:
        try:
            info = qscc.chain_info((await self._qscc_any(qscc.GET_CHAIN_INFO)).payload)
        except qscc.QsccRefused as exc:
            raise ChainUnavailable(f"peers refused GetChainInfo: {exc}") from exc
        last = max(int(info.height) - 1, 0)
        # A committed Fabric block is final: there are no forks to wait out.
        return chains_pb2.ChainHead(
            height=last, block_hash=bytes(info.currentBlockHash), final_height=last
        )

    async def read(
        self, namespace: str, key: str, at_height: int = 0
    ) -> adapter_pb2.ReadRecordResponse:
        self._check_namespace(namespace)
        if not key or blocks.is_internal_key(key):
            raise InvalidAdapterRequest("key must be non-empty and not start with U+0000")
        try:
            entries = json.loads(await self.evaluate("history", key))
        except EvaluateError as exc:
            raise AdapterError(f"chaincode history of {key!r} failed: {exc}") from exc
        for entry in entries:
            tx_id = str(entry["tx_id"])
            block_bytes, answers = await self._committed_tx(tx_id)
            block = blocks.parse_block(block_bytes)
            number = int(block.header.number)
            if at_height and number > at_height:
                continue
            return await self._response(
                block_bytes, block, blocks.find_transaction(block, tx_id), key, answers
            )
        where = f" at height {at_height}" if at_height else ""
        raise RecordNotFound(f"{self.namespace} holds no key {key!r}{where}")

    async def _committed_tx(self, tx_id: str) -> tuple[bytes, list[records_pb2.FabricQsccAnswer]]:
        """A committed transaction's block and qscc answers: fetched together, then kept."""
        known = self._committed.get(tx_id)
        if known is not None:
            return known.block, list(known.answers)
        # Both run to their end (no orphaned call), and the block's failure is reported first.
        block_bytes, answers = await asyncio.gather(
            self.block_by_tx_id(tx_id), self.attestations(tx_id), return_exceptions=True
        )
        for outcome in (block_bytes, answers):
            if isinstance(outcome, BaseException):
                raise outcome
        assert isinstance(block_bytes, bytes) and isinstance(answers, list)
        self._committed.put(tx_id, block_bytes, answers)
        return block_bytes, answers

    async def _response(
        self,
        block_bytes: bytes,
        block: Message,
        tx: blocks.TxInfo,
        key: str,
        answers: list[records_pb2.FabricQsccAnswer] | None = None,
    ) -> adapter_pb2.ReadRecordResponse:
        write = next((w for w in tx.writes if w.namespace == self.chaincode and w.key == key), None)
        if write is None:
            raise MalformedAnswer(f"transaction {tx.tx_id} does not write {key!r}")
        record = blocks.to_record(
            self._ctx.chain_id, self.channel, int(block.header.number), tx, write
        )
        if answers is None:
            answers = await self.attestations(tx.tx_id)
        proof = records_pb2.Proof(
            fabric=records_pb2.FabricTxProof(
                block=block_bytes, tx_index=tx.index, qscc_answers=answers
            )
        )
        return adapter_pb2.ReadRecordResponse(record=record, proof=proof)

    async def scan(
        self, namespace: str, from_height: int, to_height: int = 0, follow: bool = False
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        if namespace:
            self._check_namespace(namespace)
        if to_height == 0 and not follow:
            to_height = (await self.head()).final_height
        if to_height and to_height < from_height:
            return
        stop = to_height if to_height else requests.NEWEST_POSSIBLE
        next_height = from_height
        while True:
            seek = requests.seek_envelope(
                self.identity, self._signer, self.channel, next_height, stop
            )
            try:
                async for item in self._deliver_any(seek):
                    if isinstance(item, int):
                        if item != DELIVER_STATUS_SUCCESS:
                            raise ChainUnavailable(f"Deliver ended with status {item}")
                        return
                    block = blocks.parse_block(item)
                    async for response in self._block_responses(item, block):
                        yield response
                    next_height = int(block.header.number) + 1
                    if to_height and next_height > to_height:
                        return
            except PeerUnavailable:
                if not follow:
                    raise
                await asyncio.sleep(1.0)  # every peer down: wait, then resume where we were

    async def _deliver_any(self, seek: Message) -> AsyncIterator[bytes | int]:
        last: PeerUnavailable | None = None
        for peer in self._peers:
            try:
                async for item in peer.deliver(seek):
                    yield item
                return
            except PeerUnavailable as exc:
                last = exc
        assert last is not None
        raise last

    async def _block_responses(
        self, block_bytes: bytes, block: Message
    ) -> AsyncIterator[adapter_pb2.ScanResponse]:
        found = blocks.records_of_block(self._ctx.chain_id, self.channel, block, {self.chaincode})
        # Each transaction's attestations are a round trip to every attesting org: asked
        # for all of the block's transactions at once (ATTESTING at a time), not one
        # after another (a 200-transaction block took 200 round trips in a row).
        slots = asyncio.Semaphore(ATTESTING)

        async def attested(tx_id: str) -> list[records_pb2.FabricQsccAnswer]:
            async with slots:
                return await self.attestations(tx_id)

        answers: dict[str, asyncio.Task[list[records_pb2.FabricQsccAnswer]]] = {}
        for tx, _ in found:
            if tx.tx_id not in answers:
                answers[tx.tx_id] = asyncio.create_task(attested(tx.tx_id))
        try:
            for tx, record in found:
                response = await self._response(
                    block_bytes, block, tx, record.ref.key, await answers[tx.tx_id]
                )
                yield adapter_pb2.ScanResponse(record=response)
        finally:
            for task in answers.values():
                task.cancel()
            await asyncio.gather(*answers.values(), return_exceptions=True)
        yield adapter_pb2.ScanResponse(
            block=adapter_pb2.BlockMark(
                height=int(block.header.number),
                block_hash=blocks.header_hash(block.header),
                parent_hash=bytes(block.header.previous_hash),
            )
        )

    def _delivery_args(self, delivery: relay_pb2.Delivery) -> list[str]:
        if delivery.destination_namespace:
            self._check_namespace(delivery.destination_namespace)
        return deliver_args(delivery)

    async def submit(self, delivery: relay_pb2.Delivery) -> adapter_pb2.Submission:
        args = self._delivery_args(delivery)
        try:
            prepared, proposal = await self._endorse("deliver", args, None)
        except EndorseError as exc:
            raise SubmissionRejected(f"destination chaincode refused the delivery: {exc}") from exc
        answer = json.loads(chaincode_result(prepared).payload)
        if answer.get("stale"):
            return adapter_pb2.Submission(
                delivery_id=delivery.delivery_id,
                state=adapter_pb2.SUBMISSION_STATE_STALE,
                detail=f"the inbox holds version {answer.get('held_version')} of the key; "
                f"version {delivery.record.version} is older",
            )
        if answer.get("duplicate"):
            return await self._confirmed(
                delivery.delivery_id, str(answer["tx_id"]), adapter_pb2.SUBMISSION_STATE_DUPLICATE
            )
        try:
            committed = await self._submit_and_wait(proposal, prepared)
        except TransactionInvalid as exc:
            codes = {transaction_pb2.TxValidationCode.Name(c) for c in MVCC_CODES}
            if exc.validation_code not in codes:
                raise
            # Lost a race: another submission of this id (or of the key) committed first.
            seen = await self.submission(delivery.delivery_id)
            if seen.state == adapter_pb2.SUBMISSION_STATE_CONFIRMED:
                seen.state = adapter_pb2.SUBMISSION_STATE_DUPLICATE
                return seen
            return adapter_pb2.Submission(
                delivery_id=delivery.delivery_id,
                state=adapter_pb2.SUBMISSION_STATE_FAILED,
                tx_id=exc.tx_id,
                block_height=exc.block_number,
                detail=str(exc),
            )
        return adapter_pb2.Submission(
            delivery_id=delivery.delivery_id,
            state=adapter_pb2.SUBMISSION_STATE_CONFIRMED,
            tx_id=committed.tx_id,
            block_height=committed.block_number,
        )

    async def _confirmed(
        self, delivery_id: str, tx_id: str, state: adapter_pb2.SubmissionState.ValueType
    ) -> adapter_pb2.Submission:
        block = blocks.parse_block(await self.block_by_tx_id(tx_id))
        return adapter_pb2.Submission(
            delivery_id=delivery_id, state=state, tx_id=tx_id, block_height=int(block.header.number)
        )

    async def submission(self, delivery_id: str) -> adapter_pb2.Submission:
        entry = await self.evaluate("delivery", delivery_id)
        if not entry:
            return adapter_pb2.Submission(
                delivery_id=delivery_id, state=adapter_pb2.SUBMISSION_STATE_UNKNOWN
            )
        tx_id = str(json.loads(entry)["tx_id"])
        return await self._confirmed(delivery_id, tx_id, adapter_pb2.SUBMISSION_STATE_CONFIRMED)

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self._peers))


def deliver_args(delivery: relay_pb2.Delivery) -> list[str]:
    """The chaincode's `deliver` arguments for a delivery: a relay's, or a write through
    the hub (its source is then `tonglian.write`, the agency and the request id)."""
    record = delivery.record
    if not delivery.delivery_id:
        raise InvalidAdapterRequest("delivery has no delivery_id")
    try:
        value = record.value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionRejected(f"record value is not UTF-8 JSON: {exc}") from exc
    source = {
        "block_height": record.block_height,
        "chain_id": record.ref.chain_id,
        "key": record.ref.key,
        "namespace": record.ref.namespace,
        "tx_id": record.tx_id,
        "version": record.version,
    }
    return [
        delivery.delivery_id,
        record.ref.key,
        record.schema,
        value,
        canonical_json(source).decode(),
        delivery.proof_digest.hex(),
    ]
