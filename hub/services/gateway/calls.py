"""Runs a gateway request through the gRPC server's own interceptors and servicer.

The handlers are built once, at start, exactly as grpc.aio builds them for a call:
the servicer's method, wrapped by each interceptor (observing outermost, then access).
A request then runs with a `GatewayContext` standing in for grpc's servicer context:
it names the client certificate the HTTPS handshake received (the access interceptor
authenticates it, dates and CRL, as for gRPC), and `abort` raises `Aborted` carrying the
status and the google.rpc.Status trailer, which the gateway turns into a JSON error.
Nothing is decided here: the interceptors and use cases decide as they do for gRPC.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.message import Message

from hub.services.access import target_of
from hub.services.gateway.bindings import Binding
from hub.services.malformed import MalformedRequest


class Aborted(grpc.aio.AbortError):
    """A call ended with a status other than OK: its code, message and trailers."""

    def __init__(
        self, code: grpc.StatusCode, details: str, trailers: Sequence[tuple[str, Any]]
    ) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.trailers = tuple(trailers)


@dataclass
class GatewayContext:
    """The part of grpc.aio.ServicerContext the hub's interceptors and services use."""

    client_pem: bytes | None
    peer_address: str = ""
    _code: grpc.StatusCode | None = None
    _details: str = ""
    _trailers: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    async def abort(
        self,
        code: grpc.StatusCode,
        details: str = "",
        trailing_metadata: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._code, self._details = code, details
        self._trailers = tuple(trailing_metadata)
        raise Aborted(code, details, trailing_metadata)

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str:
        return self._details

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_pem_cert": [self.client_pem]} if self.client_pem else {}

    def peer(self) -> str:
        return self.peer_address

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()


class _Details(grpc.HandlerCallDetails):
    """What an interceptor learns of a call before it runs: the method's name."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Handler:
    """One method as the gRPC server would run it, interceptors included."""

    binding: Binding
    message_type: type[Message]
    deserialize: Callable[[bytes], Any]
    unary: Callable[[Any, Any], Awaitable[Any]] | None
    stream: Callable[[Any, Any], AsyncIterator[Any]] | None

    def request(self, message: Message) -> Any:
        """The request as the access interceptor's deserializer hands it on: a request
        too large or holding a NUL becomes a MalformedRequest it refuses and audits."""
        return self.deserialize(message.SerializeToString())

    def malformed(self, text: str, about: Message, too_large: bool = False) -> MalformedRequest:
        """A request the gateway could not build, named by what its path is `about`."""
        return MalformedRequest(self.binding.input.full_name, text, target_of(about), too_large)


async def build_handler(
    binding: Binding,
    servicer: object,
    message_type: type[Message],
    interceptors: Sequence[grpc.aio.ServerInterceptor],  # type: ignore[type-arg]
) -> Handler:
    """The servicer's method behind the interceptors, as grpc.aio would chain them."""
    behavior = getattr(servicer, binding.method.name)
    if binding.streaming:
        base = grpc.unary_stream_rpc_method_handler(
            behavior, request_deserializer=message_type.FromString
        )
    else:
        base = grpc.unary_unary_rpc_method_handler(
            behavior, request_deserializer=message_type.FromString
        )

    async def chain(index: int, details: grpc.HandlerCallDetails) -> Any:
        if index == len(interceptors):
            return base
        return await interceptors[index].intercept_service(lambda d: chain(index + 1, d), details)

    handler = await chain(0, _Details(binding.grpc_method))
    return Handler(
        binding,
        message_type,
        handler.request_deserializer,
        handler.unary_unary,
        handler.unary_stream,
    )
