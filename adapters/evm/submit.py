"""Submitting deliveries to the Inbox: one signer, a local nonce under a lock, final receipts.

A delivery whose destination namespace is the chain's RecordRegistry is a write through
the hub (Query.PutRecord): it becomes `RecordRegistry.putOnce(deliveryId, key, schema,
value)`, a record readable and provable like any other, which the registry applies once
per id as the inbox does. Everything else goes to the Inbox.

The inbox refuses a version older than the one it holds for the key (StaleVersion),
answered as the typed STALE outcome. It accepts each delivery id once, so
submitting is idempotent: an id the
inbox already holds is DUPLICATE, whether we see it before sending (a view
call), at gas estimation (the AlreadyDelivered revert) or after a race (our
transaction reverted and the id is now delivered). The nonce is kept locally
so concurrent submits do not collide, and re-read from the node after any
send error, since the node then knows better than we do.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, NoReturn

from eth_account import Account
from eth_account.signers.local import LocalAccount

from adapters.base import AdapterMisconfigured, ChainUnavailable, SubmissionRejected
from adapters.evm import contracts
from adapters.evm.options import ResolvedOptions
from adapters.evm.wire import EvmRpc, NodeError
from tonglian.v1 import adapter_pb2, relay_pb2

DELIVERED = contracts.event_topic("Inbox", "Delivered")
WRITTEN = contracts.event_topic("RecordRegistry", "Written")
PRIORITY_FEE_FALLBACK = 1_000_000_000  # 1 gwei, when the node has no fee oracle
NONCE_ATTEMPTS = 2


class _AlreadyDelivered(Exception):
    pass


@dataclass(frozen=True)
class _Target:
    """The contract a delivery goes to: the Inbox, or the RecordRegistry for a write."""

    contract: str
    address: str
    # The view that gives the block of an id's application, and the event that logs it.
    applied_at: str
    # Where the block number is in the view's answer: Inbox.receipts answers (sourceRef,
    # proofDigest, blockNumber, submitter), RecordRegistry.writtenAt the block alone.
    block_index: int

    def block_of(self, raw: bytes) -> int:
        return int(contracts.decode_result(self.contract, self.applied_at, raw)[self.block_index])


class _Stale(Exception):
    """The inbox reverted with StaleVersion: it holds a newer version of the key."""


def _revert_data(error: NodeError) -> bytes:
    data: Any = error.data
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return b""


class Submitter:
    def __init__(self, rpc: EvmRpc, opts: ResolvedOptions) -> None:
        self._rpc = rpc
        self._opts = opts
        self._account: LocalAccount | None = None
        if opts.private_key is not None:
            try:
                self._account = Account.from_key(opts.private_key.get_secret_value())
            except (ValueError, TypeError) as exc:
                raise AdapterMisconfigured("private_key is not a valid secp256k1 key") from exc
        self._lock = asyncio.Lock()
        self._nonce: int | None = None
        # delivery id -> hash of the transaction we sent for it.
        self._sent: dict[str, str] = {}

    @property
    def can_submit(self) -> bool:
        return self._account is not None and self._opts.inbox is not None

    def _targets(self) -> list[_Target]:
        """Where an id may have been applied: the inbox first (the relay's deliveries),
        then the registry (writes through the hub)."""
        found = [_Target("RecordRegistry", self._opts.registry, "writtenAt", 0)]
        if self._opts.inbox is not None:
            found.insert(0, _Target("Inbox", self._opts.inbox, "receipts", 2))
        return found

    def _target_of(self, delivery: relay_pb2.Delivery) -> _Target:
        if delivery.destination_namespace.lower() == self._opts.registry.lower():
            return self._targets()[-1]
        return self._targets()[0]

    async def submit(self, delivery: relay_pb2.Delivery) -> adapter_pb2.Submission:
        _, account = self._require()
        delivery_id = delivery.delivery_id
        if not delivery_id:
            raise SubmissionRejected("delivery has no id")
        if len(delivery.proof_digest) not in (0, 32):
            raise SubmissionRejected("proof_digest must be a 32-byte SHA-256")
        if await self._receipt_block(delivery_id):
            return await self.submission(delivery_id, duplicate=True)
        target = self._target_of(delivery)
        record = delivery.record
        if target.contract == "RecordRegistry":
            data = contracts.encode_call(
                "RecordRegistry",
                "putOnce",
                [delivery_id, record.ref.key, record.schema, record.value],
            )
        else:
            args = (
                delivery_id,
                record.ref.chain_id,
                record.ref.namespace,
                record.ref.key,
                record.version,
                record.schema,
                record.value,
                delivery.proof_digest or bytes(32),
            )
            data = contracts.encode_call("Inbox", "deliver", [args])
        try:
            tx_hash = await self._send(target, account, data)
        except _AlreadyDelivered:
            return await self.submission(delivery_id, duplicate=True)
        except _Stale as exc:
            return adapter_pb2.Submission(
                delivery_id=delivery_id, state=adapter_pb2.SUBMISSION_STATE_STALE, detail=str(exc)
            )
        self._sent[delivery_id] = tx_hash
        return await self._await_final(delivery_id, tx_hash)

    def _require(self) -> tuple[str, LocalAccount]:
        if self._opts.inbox is None:
            raise AdapterMisconfigured("no inbox address: this chain cannot receive deliveries")
        if self._account is None:
            raise AdapterMisconfigured(
                "no secret private_key in the chain's adapter settings: cannot sign deliveries"
            )
        return self._opts.inbox, self._account

    async def _send(self, target: _Target, account: LocalAccount, data: str) -> str:
        inbox = target.address
        try:
            estimate = await self._rpc.estimate_gas(
                {"from": account.address, "to": inbox, "data": data}
            )
        except NodeError as exc:
            self._raise_revert(target, exc)
        latest = await self._rpc.block("latest")
        base_fee = int(str((latest or {}).get("baseFeePerGas") or "0x0"), 16)
        try:
            priority = await self._rpc.max_priority_fee()
        except NodeError:
            priority = PRIORITY_FEE_FALLBACK
        async with self._lock:
            for attempt in range(NONCE_ATTEMPTS):
                nonce = self._nonce
                if nonce is None:
                    nonce = await self._rpc.nonce(account.address)
                tx: dict[str, Any] = {
                    "type": 2,
                    "chainId": self._opts.chain_id,
                    "nonce": nonce,
                    "to": inbox,
                    "data": data,
                    "value": 0,
                    "gas": int(estimate * self._opts.gas_multiplier),
                    "maxPriorityFeePerGas": priority,
                    "maxFeePerGas": 2 * base_fee + priority,
                }
                signed = account.sign_transaction(tx)
                try:
                    tx_hash = await self._rpc.send_raw(bytes(signed.raw_transaction))
                except NodeError as exc:
                    self._nonce = None
                    message = exc.node_message.lower()
                    if "already known" in message:
                        return "0x" + bytes(signed.hash).hex()
                    if "nonce" in message and attempt + 1 < NONCE_ATTEMPTS:
                        continue  # someone else used the key: resync from the node
                    self._raise_revert(target, exc)
                except ChainUnavailable:
                    # It may or may not have reached the node: ask for the nonce next time.
                    self._nonce = None
                    raise
                self._nonce = nonce + 1
                return tx_hash
        raise AssertionError("unreachable")

    def _raise_revert(self, target: _Target, exc: NodeError) -> NoReturn:
        decoded = contracts.decode_revert(target.contract, _revert_data(exc))
        if decoded and decoded[0] in ("AlreadyDelivered", "AlreadyWritten"):
            raise _AlreadyDelivered() from exc
        if decoded and decoded[0] == "NotWriter":
            raise SubmissionRejected(
                f"the record registry does not authorise writer {decoded[1][0]}"
            ) from exc
        if decoded and decoded[0] == "StaleVersion":
            _id, held, version = decoded[1]
            raise _Stale(
                f"the inbox holds version {held} of the key; version {version} is older"
            ) from exc
        if decoded and decoded[0] == "NotSubmitter":
            raise SubmissionRejected(
                f"the inbox does not authorise submitter {decoded[1][0]}"
            ) from exc
        if decoded:
            where = "inbox" if target.contract == "Inbox" else "record registry"
            raise SubmissionRejected(f"the {where} refused the delivery: {decoded[0]}") from exc
        raise SubmissionRejected(f"the node refused the transaction: {exc}") from exc

    async def _await_final(self, delivery_id: str, tx_hash: str) -> adapter_pb2.Submission:
        deadline = time.monotonic() + self._opts.receipt_timeout
        while time.monotonic() < deadline:
            receipt = await self._rpc.receipt(tx_hash)
            if receipt is not None:
                if int(str(receipt["status"]), 16) != 1:
                    if await self._receipt_block(delivery_id):
                        return await self.submission(delivery_id, duplicate=True)
                    return adapter_pb2.Submission(
                        delivery_id=delivery_id,
                        state=adapter_pb2.SUBMISSION_STATE_FAILED,
                        tx_id=tx_hash,
                        block_height=int(str(receipt["blockNumber"]), 16),
                        detail="the inbox transaction reverted",
                    )
                height = int(str(receipt["blockNumber"]), 16)
                head = await self._rpc.block_number()
                if head - height >= self._opts.finality_depth:
                    return adapter_pb2.Submission(
                        delivery_id=delivery_id,
                        state=adapter_pb2.SUBMISSION_STATE_CONFIRMED,
                        tx_id=tx_hash,
                        block_height=height,
                    )
            await asyncio.sleep(self._opts.poll_interval)
        return adapter_pb2.Submission(
            delivery_id=delivery_id,
            state=adapter_pb2.SUBMISSION_STATE_PENDING,
            tx_id=tx_hash,
            detail=f"not final after {self._opts.receipt_timeout:g}s",
        )

    async def _receipt_block(self, delivery_id: str) -> int:
        """Block in which the inbox (or, for a write, the registry) recorded
        `delivery_id` (0: not recorded)."""
        applied = await self._applied(delivery_id)
        return applied[1] if applied else 0

    async def _applied(self, delivery_id: str) -> tuple[_Target, int] | None:
        self._require()
        for target in self._targets():
            data = contracts.encode_call(
                target.contract, target.applied_at, [contracts.key_id(delivery_id)]
            )
            height = target.block_of(await self._rpc.call(target.address, data, "latest"))
            if height:
                return target, height
        return None

    async def submission(
        self, delivery_id: str, *, duplicate: bool = False
    ) -> adapter_pb2.Submission:
        """The inbox's view of `delivery_id`; DUPLICATE when asked by a submit that found it."""
        height = await self._receipt_block(delivery_id)
        tx_id = self._sent.get(delivery_id, "")
        if height == 0:
            state = (
                adapter_pb2.SUBMISSION_STATE_PENDING
                if tx_id
                else adapter_pb2.SUBMISSION_STATE_UNKNOWN
            )
            return adapter_pb2.Submission(delivery_id=delivery_id, state=state, tx_id=tx_id)
        if not tx_id or duplicate:
            tx_id = await self._delivering_tx(delivery_id, height) or tx_id
        head = await self._rpc.block_number()
        final = head - height >= self._opts.finality_depth
        if duplicate:
            state = adapter_pb2.SUBMISSION_STATE_DUPLICATE
        elif final:
            state = adapter_pb2.SUBMISSION_STATE_CONFIRMED
        else:
            state = adapter_pb2.SUBMISSION_STATE_PENDING
        return adapter_pb2.Submission(
            delivery_id=delivery_id,
            state=state,
            tx_id=tx_id,
            block_height=height,
            detail="the inbox already held this delivery id" if duplicate else "",
        )

    async def _delivering_tx(self, delivery_id: str, height: int) -> str:
        applied = await self._applied(delivery_id)
        if applied is None:
            return ""
        target = applied[0]
        logs = await self._rpc.logs(
            {
                "address": target.address,
                "topics": [
                    DELIVERED if target.contract == "Inbox" else WRITTEN,
                    "0x" + contracts.key_id(delivery_id).hex(),
                ],
                "fromBlock": hex(height),
                "toBlock": hex(height),
            }
        )
        return str(logs[0]["transactionHash"]) if logs else ""
