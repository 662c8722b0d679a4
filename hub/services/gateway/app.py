"""The gateway's aiohttp routes: one per binding, all served by one generic handler.

A request becomes its method's protobuf request (hub/services/gateway/requests.py) and
runs through the gRPC server's interceptors and servicer (hub/services/gateway/calls.py),
with the client certificate the HTTPS handshake received. The answer is the response in
its JSON mapping (proto field names), or protobuf bytes where the binding declares a
`response_body` (the proof bundle) or the client accepts application/x-protobuf. A
stream (WatchRecords) answers Server-Sent Events, or JSON lines for a client accepting
application/x-ndjson; a refusal found before the first record is answered with its HTTP
status, a later error as a last `error` event (a JSON line `{"error": ...}`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web
from cryptography.hazmat.primitives.serialization import Encoding
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from hub.audit.log import AuditLog
from hub.observability.listener_access import (
    UNAUTHENTICATED,
    ListenerAccess,
    client_certificate,
)
from hub.services.access import action_name
from hub.services.gateway.bindings import Binding
from hub.services.gateway.calls import Aborted, GatewayContext, Handler, build_handler
from hub.services.gateway.errors import error_body, http_status
from hub.services.gateway.requests import NotARequest, path_message, request_message
from hub.services.status import rich_status

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
OCTETS = "application/octet-stream"
SSE = "text/event-stream"
NDJSON = "application/x-ndjson"
OPENAPI = Path(__file__).with_name("openapi.json")
# How long a watch may take to refuse before its headers go out (then: an error event).
FIRST_ANSWER_SECONDS = 1.0
# A comment line on an idle event stream, so proxies keep it open; a closed client is
# noticed within POLL_SECONDS.
HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 1.0
STREAM_BUFFER = 16


def _json(message: Message) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def _accepts(request: web.Request, media: str) -> bool:
    return media in request.headers.get("Accept", "")


def _error(aborted: Aborted) -> web.Response:
    return web.json_response(error_body(aborted), status=http_status(aborted.code), dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _field(message: Message, path: str) -> Message:
    value: Any = message
    for name in path.split("."):
        value = getattr(value, name)
    assert isinstance(value, Message)
    return value


@dataclass
class _Route:
    handler: Handler

    @property
    def binding(self) -> Binding:
        return self.handler.binding


class Gateway:
    """The agency calls over HTTP/JSON, beside gRPC on the HTTP listener."""

    def __init__(
        self,
        servicers: dict[str, object],
        interceptors: Sequence[grpc.aio.ServerInterceptor],  # type: ignore[type-arg]
        bindings: list[Binding],
        log: AuditLog,
        access: ListenerAccess,
        secure: bool,
        max_message_bytes: int,
    ) -> None:
        """`servicers` by service full name (tonglian.v1.Query), as the gRPC server has
        them; `interceptors` the gRPC server's, outermost first; `secure` whether the
        listener runs under mutual TLS (`access` then checks the client CA's dates).
        A JSON body may be up to `body_limit`: its message is then held to
        `max_message_bytes` by the access interceptor, as a gRPC request is."""
        self._servicers = servicers
        self._interceptors = interceptors
        self.bindings = bindings
        self._log = log
        self._access = access
        self._secure = secure
        # JSON is larger than the message it holds (base64 bytes, escapes, names).
        self.body_limit = 2 * max_message_bytes + 64 * 1024
        self._tasks: set[asyncio.Task[Any]] = set()

    async def add_routes(self, app: web.Application) -> None:
        """Adds every binding's route (and /openapi.json) to `app`."""
        for binding in self.bindings:
            servicer = self._servicers[binding.method.containing_service.full_name]
            message_type = GetMessageClass(binding.input)
            handler = await build_handler(binding, servicer, message_type, self._interceptors)
            route = _Route(handler)
            serve = self._stream if binding.streaming else self._unary

            async def endpoint(
                request: web.Request, route: _Route = route, serve: Any = serve
            ) -> web.StreamResponse:
                answer: web.StreamResponse = await serve(route, request)
                return answer

            app.router.add_route(binding.verb.upper(), binding.route, endpoint)
        app.router.add_get("/openapi.json", self.openapi)

    async def openapi(self, request: web.Request) -> web.Response:
        """The OpenAPI 3 document of these routes, generated from the protos at build time
        (`make proto`); it describes the API and tells nothing about the hub's state."""
        return web.Response(body=OPENAPI.read_bytes(), content_type=JSON)

    async def _call(self, route: _Route, request: web.Request) -> tuple[Any, GatewayContext]:
        """The request as the interceptors take it, and the call's context; a certificate
        whose CA is outside its dates raises Aborted (audited)."""
        context = GatewayContext(await self._client_pem(route, request), request.remote or "")
        handler = route.handler
        path_values = {
            path: request.match_info[path.replace(".", "__")] for path in route.binding.variables
        }
        try:
            message = request_message(
                route.binding,
                path_values,
                {name: request.query.getall(name) for name in request.query},
                await request.read() if request.can_read_body else b"",
                handler.message_type,
            )
            return handler.request(message), context
        except NotARequest as exc:
            about = path_message(route.binding, path_values, handler.message_type)
            return handler.malformed(str(exc), about), context
        except web.HTTPRequestEntityTooLarge as exc:
            about = path_message(route.binding, path_values, handler.message_type)
            text = (
                f"the request body is above the gateway's {self.body_limit} bytes (twice "
                f"max_message_bytes): {exc.text}; send less or raise it in the hub's config"
            )
            return handler.malformed(text, about, too_large=True), context

    async def _client_pem(self, route: _Route, request: web.Request) -> bytes | None:
        if not self._secure:
            return None
        cert = client_certificate(request)
        if cert is None:
            return None
        if not self._access.issuer_in_dates(cert):
            message = (
                f"client certificate {cert.subject.rfc4514_string()!r} was issued by a CA "
                f"outside its validity dates ({cert.issuer.rfc4514_string()!r})"
            )
            await self._log.append(
                principal=UNAUTHENTICATED,
                action=action_name(route.binding.grpc_method),
                target=request.path,
                outcome=f"denied: {message}",
            )
            code = grpc.StatusCode.UNAUTHENTICATED
            raise Aborted(code, message, rich_status(code, message, "UNAUTHENTICATED"))
        return cert.public_bytes(Encoding.PEM)

    async def _unary(self, route: _Route, request: web.Request) -> web.StreamResponse:
        assert route.handler.unary is not None
        try:
            message, context = await self._call(route, request)
            response = await route.handler.unary(message, context)
        except Aborted as aborted:
            return _error(aborted)
        return self._answer(route.binding, response, request)

    def _answer(self, binding: Binding, response: Message, request: web.Request) -> web.Response:
        if binding.response_body:
            part = _field(response, binding.response_body)
            if _accepts(request, JSON) and not _accepts(request, OCTETS):
                return web.json_response(_json(part), dumps=_dumps)
            key = request.match_info.get("ref__key", "record")
            return web.Response(
                body=part.SerializeToString(deterministic=True),
                content_type=OCTETS,
                headers={"Content-Disposition": f'attachment; filename="{key}.bundle.pb"'},
            )
        if _accepts(request, PROTOBUF):
            return web.Response(
                body=response.SerializeToString(deterministic=True), content_type=PROTOBUF
            )
        return web.json_response(_json(response), dumps=_dumps)

    async def _stream(self, route: _Route, request: web.Request) -> web.StreamResponse:
        """Pumps the stream in a task of its own (the call's audit context lives there, as
        in a gRPC stream) into a small queue the response drains."""
        try:
            message, context = await self._call(route, request)
        except Aborted as aborted:
            return _error(aborted)
        queue: asyncio.Queue[Message | Aborted | None] = asyncio.Queue(STREAM_BUFFER)
        pump = asyncio.ensure_future(self._pump(route.handler, message, context, queue))
        self._tasks.add(pump)
        pump.add_done_callback(self._tasks.discard)
        try:
            first: Any
            try:
                first = await asyncio.wait_for(queue.get(), FIRST_ANSWER_SECONDS)
            except TimeoutError:
                first = ...
            if isinstance(first, Aborted):
                return _error(first)
            lines = _accepts(request, NDJSON)
            response = web.StreamResponse(headers={"Cache-Control": "no-store"})
            response.content_type = NDJSON if lines else SSE
            await response.prepare(request)
            item: Any = first
            idle = 0.0
            while item is not None:
                if item is ...:
                    if request.transport is None or request.transport.is_closing():
                        break
                    idle += POLL_SECONDS
                    if not lines and idle >= HEARTBEAT_SECONDS:
                        await response.write(b": keep-alive\n\n")
                        idle = 0.0
                else:
                    idle = 0.0
                    await response.write(_event(item, lines))
                    if isinstance(item, Aborted):
                        break
                try:
                    item = await asyncio.wait_for(queue.get(), POLL_SECONDS)
                except TimeoutError:
                    item = ...
            with contextlib.suppress(ConnectionError):
                await response.write_eof()
            return response
        finally:
            if not pump.done():
                pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump

    @staticmethod
    async def _pump(
        handler: Handler,
        message: Any,
        context: GatewayContext,
        queue: asyncio.Queue[Message | Aborted | None],
    ) -> None:
        assert handler.stream is not None
        try:
            async for item in handler.stream(message, context):
                await queue.put(item)
        except Aborted as aborted:
            await queue.put(aborted)
            return
        await queue.put(None)


def _event(item: Message | Aborted, lines: bool) -> bytes:
    """One stream item: an SSE `data:` event (an `error` event for a failure) or a JSON line."""
    body = error_body(item) if isinstance(item, Aborted) else _json(item)
    text = _dumps(body)
    if lines:
        return (text + "\n").encode()
    kind = "event: error\n" if isinstance(item, Aborted) else ""
    return f"{kind}data: {text}\n\n".encode()
