"""The only file that speaks gRPC to Fabric peers: Gateway, Endorser (for qscc), Deliver and
Discovery.

Everything above works with values. Failures become the typed errors of
`errors.py`; an unreachable peer (UNAVAILABLE, DEADLINE_EXCEEDED) is always
PeerUnavailable. Answers whose bytes matter to a proof (proposal responses,
blocks) are returned exactly as the peer sent them, never re-serialized.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory

from adapters.fabric.errors import (
    CommitStatusError,
    DiscoveryError,
    EndorseError,
    ErrorDetail,
    EvaluateError,
    FabricCallError,
    PeerUnavailable,
    SubmitError,
)
from adapters.fabric.protos import (
    Message,
    discovery_pb2,
    events_pb2,
    gateway_pb2,
)

GATEWAY = "/gateway.Gateway/"
ENDORSER_PROCESS_PROPOSAL = "/protos.Endorser/ProcessProposal"
DELIVER = "/protos.Deliver/Deliver"
DISCOVER = "/discovery.Discovery/Discover"

UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
MAX_MESSAGE = 100 * 1024 * 1024


def _status_message_class() -> Any:
    """google.rpc.Status, declared here: the gateway's error details travel in it."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(any_pb2.DESCRIPTOR.serialized_pb)  # type: ignore[no-untyped-call]
    fdp = descriptor_pb2.FileDescriptorProto(
        name="tonglian_rpc_status.proto", package="google.rpc", syntax="proto3"
    )
    fdp.dependency.append("google/protobuf/any.proto")
    msg = fdp.message_type.add(name="Status")
    msg.field.add(name="code", number=1, type=5, label=1)
    msg.field.add(name="message", number=2, type=9, label=1)
    msg.field.add(name="details", number=3, type=11, label=3, type_name=".google.protobuf.Any")
    pool.Add(fdp)  # type: ignore[no-untyped-call]
    descriptor = pool.FindMessageTypeByName("google.rpc.Status")  # type: ignore[no-untyped-call]
    return message_factory.GetMessageClass(descriptor)


_Status = _status_message_class()


def error_details(err: grpc.aio.AioRpcError) -> list[ErrorDetail]:
    """The gateway's per-peer ErrorDetail entries from `grpc-status-details-bin`."""
    out: list[ErrorDetail] = []
    metadata: Any = err.trailing_metadata() or ()
    for key, value in metadata:
        if key != "grpc-status-details-bin" or not isinstance(value, bytes):
            continue
        try:
            status = _Status.FromString(value)
        except Exception:
            continue
        for detail in status.details:
            item = gateway_pb2.ErrorDetail()
            if detail.Unpack(item):
                out.append(ErrorDetail(item.address, item.msp_id, item.message))
    return out


def field_bytes(message: bytes, field_number: int) -> bytes | None:
    """The raw bytes of a length-delimited field, read from the wire form (no re-encoding)."""

    def varint(pos: int) -> tuple[int, int]:
        shift = result = 0
        while True:
            b = message[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result, pos
            shift += 7

    pos = 0
    found: bytes | None = None
    while pos < len(message):
        key, pos = varint(pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = varint(pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = varint(pos)
            if number == field_number:
                found = message[pos : pos + length]
            pos += length
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return found


def _peers_unreachable(details: list[ErrorDetail]) -> bool:
    """The gateway failed because peers it needed could not be reached (e.g. ABORTED
    "failed to collect enough transaction endorsements" with Unavailable details)."""
    return bool(details) and all("code = Unavailable" in d.message for d in details)


@dataclass(frozen=True)
class PeerTarget:
    endpoint: str
    msp_id: str
    tls_root_cert: bytes
    tls_server_name: str = ""


class PeerConnection:
    """One gRPC channel to one peer, opened on first use in the running event loop."""

    def __init__(self, target: PeerTarget) -> None:
        self.target = target
        self._channel: grpc.aio.Channel | None = None
        self._discovery_channel: grpc.aio.Channel | None = None

    @property
    def endpoint(self) -> str:
        return self.target.endpoint

    @property
    def msp_id(self) -> str:
        return self.target.msp_id

    def _options(self) -> list[tuple[str, Any]]:
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
        ]
        if self.target.tls_server_name:
            options.append(("grpc.ssl_target_name_override", self.target.tls_server_name))
        return options

    def _chan(self) -> grpc.aio.Channel:
        if self._channel is None:
            creds = grpc.ssl_channel_credentials(root_certificates=self.target.tls_root_cert)
            self._channel = grpc.aio.secure_channel(
                self.target.endpoint, creds, options=self._options()
            )
        return self._channel

    def connected(self) -> bool:
        """Whether the gateway channel is connected now (asking it to connect if idle)."""
        state = self._chan().get_state(try_to_connect=True)
        return bool(state == grpc.ChannelConnectivity.READY)

    async def close(self) -> None:
        for channel in (self._channel, self._discovery_channel):
            if channel is not None:
                await channel.close(None)
        self._channel = self._discovery_channel = None

    def _fail(
        self, op: str, err: grpc.aio.AioRpcError, kind: type[FabricCallError], tx_id: str = ""
    ) -> Exception:
        code = err.code()
        args = (op, self.endpoint, code.name, err.details() or "", error_details(err), tx_id)
        if code in UNREACHABLE or _peers_unreachable(args[4]):
            return PeerUnavailable(*args)
        return kind(*args)

    async def _unary(
        self,
        method: str,
        request: bytes,
        *,
        deadline: float,
        op: str,
        kind: type[FabricCallError],
        tx_id: str = "",
    ) -> bytes:
        call = self._chan().unary_unary(method, None, None)
        try:
            answer = await call(request, timeout=deadline)
        except grpc.aio.AioRpcError as err:
            raise self._fail(op, err, kind, tx_id) from err
        return bytes(answer)

    # --- Gateway ---------------------------------------------------------------------------

    async def evaluate(
        self,
        tx_id: str,
        channel: str,
        proposal: Message,
        target_orgs: list[str],
        deadline: float,
    ) -> Message:
        request = gateway_pb2.EvaluateRequest(
            transaction_id=tx_id,
            channel_id=channel,
            proposed_transaction=proposal,
            target_organizations=target_orgs,
        )
        raw = await self._unary(
            GATEWAY + "Evaluate",
            request.SerializeToString(),
            deadline=deadline,
            op="Evaluate",
            kind=EvaluateError,
            tx_id=tx_id,
        )
        return gateway_pb2.EvaluateResponse.FromString(raw).result

    async def endorse(
        self,
        tx_id: str,
        channel: str,
        proposal: Message,
        endorsing_orgs: list[str],
        deadline: float,
    ) -> Message:
        request = gateway_pb2.EndorseRequest(
            transaction_id=tx_id,
            channel_id=channel,
            proposed_transaction=proposal,
            endorsing_organizations=endorsing_orgs,
        )
        raw = await self._unary(
            GATEWAY + "Endorse",
            request.SerializeToString(),
            deadline=deadline,
            op="Endorse",
            kind=EndorseError,
            tx_id=tx_id,
        )
        return gateway_pb2.EndorseResponse.FromString(raw).prepared_transaction

    async def submit(self, tx_id: str, channel: str, envelope: Message, deadline: float) -> None:
        request = gateway_pb2.SubmitRequest(
            transaction_id=tx_id, channel_id=channel, prepared_transaction=envelope
        )
        await self._unary(
            GATEWAY + "Submit",
            request.SerializeToString(),
            deadline=deadline,
            op="Submit",
            kind=SubmitError,
            tx_id=tx_id,
        )

    async def commit_status(self, tx_id: str, request: Message, deadline: float) -> Message:
        raw = await self._unary(
            GATEWAY + "CommitStatus",
            request.SerializeToString(),
            deadline=deadline,
            op="CommitStatus",
            kind=CommitStatusError,
            tx_id=tx_id,
        )
        return gateway_pb2.CommitStatusResponse.FromString(raw)

    async def chaincode_events(
        self, request: Message
    ) -> AsyncIterator[gateway_pb2.ChaincodeEventsResponse]:
        call = self._chan().unary_stream(GATEWAY + "ChaincodeEvents", None, None)
        stream = call(request.SerializeToString())
        try:
            async for raw in stream:
                yield gateway_pb2.ChaincodeEventsResponse.FromString(raw)
        except grpc.aio.AioRpcError as err:
            raise self._fail("ChaincodeEvents", err, EvaluateError) from err
        finally:
            stream.cancel()

    # --- Endorser (direct, for signed qscc answers) ----------------------------------------

    async def process_proposal(self, proposal: Message, tx_id: str, deadline: float) -> bytes:
        """The peer's ProposalResponse, as the exact bytes it sent (they are signed)."""
        return await self._unary(
            ENDORSER_PROCESS_PROPOSAL,
            proposal.SerializeToString(),
            deadline=deadline,
            op="ProcessProposal",
            kind=EvaluateError,
            tx_id=tx_id,
        )

    # --- Discovery -------------------------------------------------------------------------

    async def discover(
        self,
        signed_request: Message,
        client_cert_pem: bytes,
        client_key_pem: bytes,
        deadline: float,
    ) -> Message:
        """The discovery service's Response. Its own channel presents `client_cert_pem` in the
        TLS handshake (a peer with TLS answers discovery only on such a session); gateway
        calls keep a channel without one, as a peer requiring client certificates from its
        TLS CA would refuse this one."""
        if self._discovery_channel is None:
            creds = grpc.ssl_channel_credentials(
                root_certificates=self.target.tls_root_cert,
                private_key=client_key_pem,
                certificate_chain=client_cert_pem,
            )
            self._discovery_channel = grpc.aio.secure_channel(
                self.target.endpoint, creds, options=self._options()
            )
        call = self._discovery_channel.unary_unary(DISCOVER, None, None)
        try:
            answer = await call(signed_request.SerializeToString(), timeout=deadline)
        except grpc.aio.AioRpcError as err:
            raise self._fail("Discover", err, DiscoveryError) from err
        return discovery_pb2.Response.FromString(bytes(answer))

    # --- Deliver ---------------------------------------------------------------------------

    async def deliver(self, seek: Message) -> AsyncIterator[bytes | int]:
        """Blocks as the exact bytes the peer sent, or the final status code (an int)."""
        call = self._chan().stream_stream(DELIVER, None, None)

        async def requests() -> AsyncIterator[bytes]:
            yield bytes(seek.SerializeToString())

        stream = call(requests())
        try:
            async for raw in stream:
                block = field_bytes(bytes(raw), 2)
                if block is not None:
                    yield block
                    continue
                response = events_pb2.DeliverResponse.FromString(raw)
                yield int(response.status)
        except grpc.aio.AioRpcError as err:
            raise self._fail("Deliver", err, EvaluateError) from err
        finally:
            stream.cancel()
