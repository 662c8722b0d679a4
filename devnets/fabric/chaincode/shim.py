"""fabric-chaincode-python 2.5.4, guarded: runs the `records` contract as a chaincode server.

The library's handler has defects seen on Fabric v3.1.5 (RUNNING.md). Each guard
here names the defect it answers:

1. Concurrent transactions hang: the handler writes to the gRPC stream from
   concurrent tasks; grpc.aio allows one write in flight, so one write fails with
   TOO_MANY_OPERATIONS and the peer waits out its execute timeout.
   -> `SerialisedStream` puts every write behind one lock.
2. Chaincode events are never sent (`stub.set_event` keeps them on the stub).
   -> `GuardedHandler` builds the COMPLETED message itself, with the event.
3. Idle streams get GoAway `too_many_pings`: the peer pings every 60 s, gRPC
   server defaults allow one ping per 5 min without data.
   -> `KEEPALIVE_OPTIONS` on our own server.
4. An exception inside a transaction sends no reply (the peer waits 30 s).
   -> `GuardedHandler` answers every transaction: 400 for caller errors, 500 else.
5. `get_state` returns only the payload (a peer ERROR looks like a value) and
   `put_state`/`delete_state` return the raw message.
   -> `PeerLedger` checks the message type of every answer and raises `PeerError`.
6. Importing the library sets the root logger to DEBUG and warns `-->> Look out!`
   on every message. -> `quiet_library_logging`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any

import grpc

# Importing the handler configures logging (defect 6); quiet it right after.
from fabric_chaincode_python.fabric_shim.handler import Handler

from devnets.fabric.chaincode import STREAM_CLOSED, STREAM_OPENED, records

# fabric_protos ships no type stubs: its modules are typed as Any (see adapters/fabric/protos.py).
kv_query_result_pb2: Any = importlib.import_module(
    "fabric_protos.ledger.queryresult.kv_query_result_pb2"
)
chaincode_event_pb2: Any = importlib.import_module("fabric_protos.peer.chaincode_event_pb2")
chaincode_pb2: Any = importlib.import_module("fabric_protos.peer.chaincode_pb2")
chaincode_shim_pb2: Any = importlib.import_module("fabric_protos.peer.chaincode_shim_pb2")
chaincode_shim_pb2_grpc: Any = importlib.import_module("fabric_protos.peer.chaincode_shim_pb2_grpc")
proposal_response_pb2: Any = importlib.import_module("fabric_protos.peer.proposal_response_pb2")

LOG = logging.getLogger("tonglian.chaincode")
CCMsg = chaincode_shim_pb2.ChaincodeMessage

# Defect 3: accept the peer's keepalive pings (every 60 s, even with no data).
KEEPALIVE_OPTIONS: list[tuple[str, int]] = [
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_ping_strikes", 0),
]

STATUS_OK = 200
STATUS_BAD_REQUEST = 400
STATUS_ERROR = 500


class PeerError(Exception):
    """The peer answered a ledger request with ERROR (defect 5)."""


class _DropLookOut(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "-->> Look out!"


def quiet_library_logging(level: int = logging.INFO) -> None:
    """Defect 6: undo the library's root DEBUG level and its per-message chatter.

    The library logs through the `asyncio` logger, at INFO, including every
    payload it sees; WARNING and above are kept (minus the `Look out!` noise).
    """
    logging.getLogger().setLevel(level)
    shim_logger = logging.getLogger("asyncio")
    shim_logger.setLevel(logging.WARNING)
    shim_logger.addFilter(_DropLookOut())


quiet_library_logging()


class SerialisedStream:
    """Defect 1: one write at a time on the peer stream (grpc.aio allows no more)."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self._lock = asyncio.Lock()

    async def write(self, message: Any) -> None:
        async with self._lock:
            await self._context.write(message)


class PeerLedger:
    """records.Ledger over the shim stream; every answer's type is checked (defect 5)."""

    def __init__(self, handler: GuardedHandler, channel_id: str, tx_id: str) -> None:
        self._handler = handler
        self._channel_id = channel_id
        self.tx_id = tx_id

    async def _ask(self, msg_type: int, body: Any, action: str) -> Any:
        msg = CCMsg(
            type=msg_type,
            payload=body.SerializeToString(),
            txid=self.tx_id,
            channel_id=self._channel_id,
        )
        reply = await self._handler.ask(msg, action)
        if reply.type != CCMsg.RESPONSE:
            detail = bytes(reply.payload).decode("utf-8", errors="replace")
            raise PeerError(f"{action}: peer answered {CCMsg.Type.Name(reply.type)}: {detail}")
        return reply

    async def get(self, key: str) -> bytes | None:
        reply = await self._ask(
            CCMsg.GET_STATE, chaincode_shim_pb2.GetState(key=key, collection=""), "GetState"
        )
        return bytes(reply.payload) or None

    async def put(self, key: str, value: bytes) -> None:
        body = chaincode_shim_pb2.PutState(key=key, value=value, collection="")
        await self._ask(CCMsg.PUT_STATE, body, "PutState")

    async def history(self, key: str) -> list[records.KeyModification]:
        reply = await self._ask(
            CCMsg.GET_HISTORY_FOR_KEY,
            chaincode_shim_pb2.GetHistoryForKey(key=key),
            "GetHistoryForKey",
        )
        out: list[records.KeyModification] = []
        page = chaincode_shim_pb2.QueryResponse.FromString(reply.payload)
        try:
            while True:
                for item in page.results:
                    mod = kv_query_result_pb2.KeyModification.FromString(item.resultBytes)
                    out.append(
                        records.KeyModification(
                            tx_id=mod.tx_id,
                            timestamp_seconds=mod.timestamp.seconds,
                            timestamp_nanos=mod.timestamp.nanos,
                            is_delete=mod.is_delete,
                        )
                    )
                if not page.has_more:
                    break
                reply = await self._ask(
                    CCMsg.QUERY_STATE_NEXT,
                    chaincode_shim_pb2.QueryStateNext(id=page.id),
                    "QueryStateNext",
                )
                page = chaincode_shim_pb2.QueryResponse.FromString(reply.payload)
        finally:
            if page.id:
                await self._ask(
                    CCMsg.QUERY_STATE_CLOSE,
                    chaincode_shim_pb2.QueryStateClose(id=page.id),
                    "QueryStateClose",
                )
        return out


class GuardedHandler(Handler):  # type: ignore[misc]
    """The library's peer handler with its transaction step replaced (defects 2, 4, 5)."""

    async def ask(self, msg: Any, action: str) -> Any:
        """Sends one ledger request on this transaction's queue and awaits the answer."""
        return await self._Handler__ask_peer_and_listen(msg, action)

    async def handle_stub_interaction(self, msg: Any, action: str = "Invoke") -> None:
        response, event = await self._run(msg)
        reply = CCMsg(
            type=CCMsg.COMPLETED,
            payload=response.SerializeToString(),
            txid=msg.txid,
            channel_id=msg.channel_id,
        )
        if event is not None:
            reply.chaincode_event.CopyFrom(event)
        await self.context.write(reply)

    async def _run(self, msg: Any) -> tuple[Any, Any]:
        """Always returns an answer: an exception must never leave the peer waiting."""
        try:
            cc_input = chaincode_pb2.ChaincodeInput.FromString(msg.payload)
            args = [bytes(a).decode("utf-8") for a in cc_input.args]
            if not args:
                raise records.ContractError("no function name given")
            ledger = PeerLedger(self, msg.channel_id, msg.txid)
            outcome = await records.invoke(ledger, args[0], args[1:])
        except records.ContractError as exc:
            return proposal_response_pb2.Response(status=STATUS_BAD_REQUEST, message=str(exc)), None
        except Exception as exc:
            LOG.exception("transaction %s failed", msg.txid)
            message = f"chaincode error: {type(exc).__name__}: {exc}"
            return proposal_response_pb2.Response(status=STATUS_ERROR, message=message), None
        event = None
        if outcome.event is not None:
            event = chaincode_event_pb2.ChaincodeEvent(
                event_name=outcome.event.name, payload=outcome.event.payload
            )
        return proposal_response_pb2.Response(status=STATUS_OK, payload=outcome.payload), event


class GuardedChaincodeService(chaincode_shim_pb2_grpc.ChaincodeServicer):  # type: ignore[misc]
    """The peer's Connect stream, served by a GuardedHandler over a SerialisedStream."""

    def __init__(self, chaincode_id: str) -> None:
        self._ccid = chaincode_id

    async def Connect(self, request_iterator: Any, context: Any) -> None:
        # Logged so a dropped stream (e.g. a keepalive GoAway) is visible: the peer
        # logs it only at DEBUG. Tests count these lines.
        LOG.info("%s %s", STREAM_OPENED, context.peer())
        handler = GuardedHandler(self._ccid, None)
        try:
            await handler.chat_with_peer(request_iterator, SerialisedStream(context))
        finally:
            LOG.info("%s %s", STREAM_CLOSED, context.peer())


async def serve(address: str, chaincode_id: str) -> None:
    """Serves until cancelled (SIGTERM), then stops with a short grace period."""
    server = grpc.aio.server(options=KEEPALIVE_OPTIONS)
    chaincode_shim_pb2_grpc.add_ChaincodeServicer_to_server(
        GuardedChaincodeService(chaincode_id), server
    )
    server.add_insecure_port(address)
    await server.start()
    LOG.info("records chaincode %s listening on %s", chaincode_id, address)
    try:
        await server.wait_for_termination()
    finally:
        await server.stop(1)
