"""Authentication, limits and accounting for every call: a gRPC server interceptor.

For each tonglian.v1 call it (1) names the caller from the client certificate
(hub/authentication.py), (2) refuses a request the hub cannot hold (hub/services/
malformed.py), (3) takes the caller's slot under its limits (hub/access/limits.py),
(4) opens the call's audit record, which the use cases fill with what they decided
(hub/usecases/: purpose, policy rules, operator rights), and (5) appends that record with
the outcome when the call ends. It decides nothing about rights: the use cases do.

Health and reflection follow the same certificate checks (a revoked or expired
certificate is refused, and an open Health.Watch or reflection stream ends when its
certificate lapses) and the same stream limits; refusals are audited, a successful
Health.Check is not (load balancers poll it).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import Message

from hub.access.limits import LimitSettings, PrincipalLimits, Slot
from hub.audit.call import AuditedCall, enter_call
from hub.audit.log import AuditLog
from hub.authentication import Authenticator
from hub.errors import HubError, InvalidInput, LimitExceeded, Unauthenticated
from hub.principal import INSECURE, Principal
from hub.services.malformed import MalformedRequest, escaped, lenient
from hub.services.status import Context, abort_for
from hub.services.stream_guard import guarded

log = logging.getLogger("tonglian.hub")

# How often an open stream re-checks its caller's certificate against the CRL (and it
# also wakes at the certificate's notAfter): a revoked caller's stream ends within this.
STREAM_RECHECK_SECONDS = 1.0

PREFIX = "/tonglian.v1."
# Services outside tonglian.v1 that still need a valid certificate (not audited when they
# succeed; Health.Check is polled).
CHECKED_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
# What gRPC receives above max_message_bytes, so a request a little too large is refused
# by the hub (audited, the setting named) rather than by gRPC's transport (unaudited).
RECEIVE_HEADROOM = 1024 * 1024


def receive_limit(max_message_bytes: int) -> int:
    """The grpc.max_receive_message_length that goes with `max_message_bytes`."""
    return max_message_bytes + RECEIVE_HEADROOM


SERVICE_ACTIONS = {
    "Query": "query",
    "ChainRegistry": "chains",
    "Relay": "relay",
    "Audit": "audit",
    "Health": "health",
    "ServerReflection": "reflection",
}


def action_name(method: str) -> str:
    """`/tonglian.v1.ChainRegistry/RegisterChain` -> `chains.register_chain`;
    `/grpc.health.v1.Health/Check` -> `health.check`."""
    service, _, name = method.lstrip("/").partition("/")
    service = service.rpartition(".")[2]
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return f"{SERVICE_ACTIONS.get(service, service.lower())}.{snake}"


def target_of(message: Message | MalformedRequest) -> str:
    """What the call is about, for its audit event (escaped: storable whatever it holds)."""
    if isinstance(message, MalformedRequest):
        return message.target
    return escaped(_target(message))


def _target(message: Message) -> str:
    request: Any = message
    fields = message.DESCRIPTOR.fields_by_name
    if "ref" in fields:
        ref = request.ref
        return f"{ref.chain_id}/{ref.namespace}/{ref.key}"
    if "filter" in fields:
        flt = request.filter
        return f"{flt.chain_id}/{flt.namespace or '*'}/{flt.key_prefix}*"
    for name in ("chain", "route"):
        if name in fields and request.HasField(name):
            inner = getattr(request, name)
            return str(getattr(inner, f"{name}_id"))
    for name in ("chain_id", "route_id", "delivery_id"):
        if name in fields:
            return str(getattr(request, name))
    return ""


class AccessInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    def __init__(
        self,
        authenticator: Authenticator | None,
        audit: AuditLog,
        limits: PrincipalLimits | None = None,
        max_message_bytes: int | None = None,
    ) -> None:
        """`authenticator` None means the hub runs --insecure: every caller is INSECURE.
        A request above `max_message_bytes` is refused (RESOURCE_EXHAUSTED) and audited;
        gRPC itself must let through a little more (`receive_limit`) for it to be seen."""
        self._authenticator = authenticator
        self._max_message_bytes = max_message_bytes
        self._audit = audit
        self._limits = limits or PrincipalLimits(LimitSettings())
        self._pending: set[asyncio.Task[Any]] = set()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None:
            return handler
        if method.startswith(PREFIX):
            return self._wrapped(method, handler, audited=True)
        if method.startswith(CHECKED_PREFIXES) and self._authenticator is not None:
            return self._wrapped(method, handler, audited=False)
        return handler

    def _wrapped(self, method: str, handler: Any, audited: bool) -> Any:
        deserializer = lenient(handler.request_deserializer, _target, self._max_message_bytes)
        if handler.unary_unary is not None:
            behavior = handler.unary_unary
            if audited:
                return grpc.unary_unary_rpc_method_handler(
                    self._unary(method, behavior),
                    request_deserializer=deserializer,
                    response_serializer=handler.response_serializer,
                )
            return grpc.unary_unary_rpc_method_handler(
                self._checked_unary(method, behavior),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, handler.unary_stream, audited),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream is not None and not audited:
            return grpc.stream_stream_rpc_method_handler(
                self._checked_bidi(method, handler.stream_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _principal(self, context: Context) -> Principal:
        if self._authenticator is None:
            return INSECURE
        return self._authenticator.authenticate(_client_pem(context))

    async def _open(
        self, method: str, request: Message | MalformedRequest | None, context: Context
    ) -> AuditedCall:
        """Authenticates the caller and opens the call's audit record; on refusal appends
        the event and aborts."""
        action = action_name(method)
        target = "" if request is None else target_of(request)
        try:
            principal = self._principal(context)
        except HubError as exc:
            await self._audit.append(
                principal="unauthenticated",
                action=action,
                target=target,
                outcome=f"denied: {exc}",
            )
            await abort_for(exc, self._open, context)
        # Purpose and rights are the use cases' to check and record (hub/usecases/).
        return AuditedCall(principal, action, self._audit, target)

    async def _close(self, call: AuditedCall, context: Context, failed: bool) -> None:
        if call.event is not None:
            return
        code = context.code() if failed else None
        try:
            if code is None or code == grpc.StatusCode.OK:
                await call.commit("ok" if not failed else "error: UNKNOWN")
            else:
                await call.fail(code, str(context.details() or ""))
        except HubError as exc:
            if not failed:  # an answer that cannot be audited is not given
                await abort_for(exc, self._close, context)
            # A failed call keeps its own status (abort_for already tried its event).
            log.warning("call %s ended without its audit event: %s", call.action, exc)

    async def _slot(
        self, take: Callable[[Principal], Slot], call: AuditedCall, context: Context
    ) -> Slot:
        """The caller's slot under its limits; past one, the refusal is audited and sent."""
        try:
            return take(call.principal)
        except LimitExceeded as exc:
            await abort_for(exc, self._slot, context)

    async def _refuse_malformed(
        self, call: AuditedCall, request: MalformedRequest, context: Context
    ) -> None:
        refusal: HubError
        if request.too_large:
            refusal = LimitExceeded(request.message(), limit="max_message_bytes")
        else:
            refusal = InvalidInput(request.message(), message_type=request.type_name)
        call.detail["error"] = request.message()[:500]
        await call.commit(f"error: {refusal.status.name}")
        await abort_for(refusal, self._refuse_malformed, context)

    def _close_later(self, call: AuditedCall, outcome: str) -> None:
        """For a cancelled call: append without blocking the cancellation."""
        if call.event is None:
            task = asyncio.ensure_future(call.commit(outcome))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    @staticmethod
    def _while_authenticated(
        items: AsyncIterator[Any], authenticator: Authenticator, context: Context
    ) -> AsyncIterator[Any]:
        """The stream's items while the caller's certificate is neither revoked nor expired."""
        pem = _client_pem(context)
        lapse = asyncio.ensure_future(authenticator.lapse(pem, STREAM_RECHECK_SECONDS))
        return guarded(items, lapse, lambda: authenticator.authenticate(pem))

    async def _end_unauthenticated(
        self, call: AuditedCall, exc: Unauthenticated, context: Context
    ) -> None:
        """Closes a stream whose certificate lapsed, with an audit event that says so."""
        outcome = f"denied: stream closed: {exc}"
        if call.event is None:
            call.denied_by = str(exc)
            await call.commit(outcome)
        else:
            await self._audit.append(
                principal=call.principal.name,
                action=call.action,
                target=call.target,
                purpose=call.purpose,
                outcome=outcome,
                detail={"serial": call.principal.serial},
            )
        await abort_for(exc, self._end_unauthenticated, context)

    def _unary(
        self, method: str, behavior: Callable[[Any, Context], Awaitable[Any]]
    ) -> Callable[[Any, Context], Awaitable[Any]]:
        async def wrapper(request: Any, context: Context) -> Any:
            call = await self._open(method, request, context)
            enter_call(call)
            if isinstance(request, MalformedRequest):
                await self._refuse_malformed(call, request, context)
            slot = await self._slot(self._limits.start_call, call, context)
            try:
                response = await behavior(request, context)
            except asyncio.CancelledError:
                self._close_later(call, "error: CANCELLED")
                raise
            except BaseException:
                await self._close(call, context, failed=True)
                raise
            finally:
                slot.release()
            await self._close(call, context, failed=False)
            return response

        return wrapper

    def _stream(
        self, method: str, behavior: Callable[[Any, Context], AsyncIterator[Any]], audited: bool
    ) -> Callable[[Any, Context], AsyncIterator[Any]]:
        """A server stream (`audited`: its event is appended when it ends; otherwise only
        a refusal is)."""

        async def wrapper(request: Any, context: Context) -> AsyncIterator[Any]:
            call = await self._open(method, request, context)
            enter_call(call)
            if isinstance(request, MalformedRequest):
                await self._refuse_malformed(call, request, context)
            slot = await self._slot(self._limits.open_stream, call, context)
            try:
                items = self._items(call, behavior(request, context), context, audited)
                async for item in items:
                    yield item
            finally:
                slot.release()
            if audited:
                await self._close(call, context, failed=False)

        return wrapper

    async def _items(
        self, call: AuditedCall, items: AsyncIterator[Any], context: Context, audited: bool
    ) -> AsyncIterator[Any]:
        """A stream's items while its certificate authenticates; a lapse is audited, and
        (`audited`) how else it ended."""
        if self._authenticator is not None:
            items = self._while_authenticated(items, self._authenticator, context)
        try:
            async for item in items:
                yield item
        except Unauthenticated as exc:
            await self._end_unauthenticated(call, exc, context)
        except (asyncio.CancelledError, GeneratorExit):
            if audited:
                self._close_later(call, "error: CANCELLED")
            raise
        except BaseException:
            if audited:
                await self._close(call, context, failed=True)
            raise

    def _checked_unary(
        self, method: str, behavior: Callable[[Any, Context], Awaitable[Any]]
    ) -> Callable[[Any, Context], Awaitable[Any]]:
        """Health.Check: the certificate is checked (a refusal is audited); an answer is not."""

        async def wrapper(request: Any, context: Context) -> Any:
            await self._open(method, request, context)
            return await behavior(request, context)

        return wrapper

    def _checked_bidi(
        self, method: str, behavior: Callable[[Any, Context], AsyncIterator[Any]]
    ) -> Callable[[Any, Context], AsyncIterator[Any]]:
        """Reflection: a stream of questions, under the same checks as a server stream."""

        async def wrapper(requests: AsyncIterator[Any], context: Context) -> AsyncIterator[Any]:
            call = await self._open(method, None, context)
            enter_call(call)
            slot = await self._slot(self._limits.open_stream, call, context)
            try:
                items = self._items(call, behavior(requests, context), context, audited=False)
                async for item in items:
                    yield item
            finally:
                slot.release()

        return wrapper


def _client_pem(context: Context) -> bytes:
    pems = list(context.auth_context().get("x509_pem_cert", []))
    if not pems:
        raise Unauthenticated(
            "no client certificate: this hub requires mutual TLS "
            "(give --cert/--key/--ca or TONGLIAN_CERT/TONGLIAN_KEY/TONGLIAN_CA)"
        )
    return bytes(pems[0])
