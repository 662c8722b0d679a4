"""Authentication and accounting for every tonglian.v1 call: a gRPC server interceptor.

For each call it (1) names the caller from the client certificate (hub/authentication.py),
(2) opens the call's audit record, which the use cases fill with what they decided
(hub/usecases/: purpose, policy rules, operator rights), and (3) appends that record with
the outcome when the call ends. It decides nothing about rights: the use cases do.

Health and reflection are not wrapped: they reveal nothing but the published
schema, and the TLS handshake already admits only certificates of the trusted CA.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import Message

from hub.audit.call import AuditedCall, enter_call
from hub.audit.log import AuditLog
from hub.authentication import Authenticator
from hub.errors import HubError, InvalidInput, Unauthenticated
from hub.principal import INSECURE, Principal
from hub.services.malformed import MalformedRequest, lenient
from hub.services.status import Context, abort_for
from hub.services.stream_guard import guarded

log = logging.getLogger("tonglian.hub")

# How often an open stream re-checks its caller's certificate against the CRL (and it
# also wakes at the certificate's notAfter): a revoked caller's stream ends within this.
STREAM_RECHECK_SECONDS = 1.0

PREFIX = "/tonglian.v1."
SERVICE_ACTIONS = {"Query": "query", "ChainRegistry": "chains", "Relay": "relay", "Audit": "audit"}


def action_name(method: str) -> str:
    """`/tonglian.v1.ChainRegistry/RegisterChain` -> `chains.register_chain`."""
    service, _, name = method.removeprefix(PREFIX).partition("/")
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return f"{SERVICE_ACTIONS.get(service, service.lower())}.{snake}"


def target_of(message: Message | MalformedRequest) -> str:
    if isinstance(message, MalformedRequest):
        return ""
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
    def __init__(self, authenticator: Authenticator | None, audit: AuditLog) -> None:
        """`authenticator` None means the hub runs --insecure: every caller is INSECURE."""
        self._authenticator = authenticator
        self._audit = audit
        self._pending: set[asyncio.Task[Any]] = set()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or not method.startswith(PREFIX):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary),
                request_deserializer=lenient(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, handler.unary_stream),
                request_deserializer=lenient(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler

    def _principal(self, context: Context) -> Principal:
        if self._authenticator is None:
            return INSECURE
        return self._authenticator.authenticate(_client_pem(context))

    async def _open(self, method: str, request: Message, context: Context) -> AuditedCall:
        """Authenticates the caller and opens the call's audit record; on refusal appends
        the event and aborts."""
        action = action_name(method)
        try:
            principal = self._principal(context)
        except HubError as exc:
            await self._audit.append(
                principal="unauthenticated",
                action=action,
                target=target_of(request),
                outcome=f"denied: {exc}",
            )
            await abort_for(exc, self._open, context)
        # Purpose and rights are the use cases' to check and record (hub/usecases/).
        return AuditedCall(principal, action, self._audit, target_of(request))

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

    async def _refuse_malformed(
        self, call: AuditedCall, request: MalformedRequest, context: Context
    ) -> None:
        call.detail["error"] = request.message()[:500]
        await call.commit("error: INVALID_ARGUMENT")
        refusal = InvalidInput(request.message(), message_type=request.type_name)
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
            try:
                response = await behavior(request, context)
            except asyncio.CancelledError:
                self._close_later(call, "error: CANCELLED")
                raise
            except BaseException:
                await self._close(call, context, failed=True)
                raise
            await self._close(call, context, failed=False)
            return response

        return wrapper

    def _stream(
        self, method: str, behavior: Callable[[Any, Context], AsyncIterator[Any]]
    ) -> Callable[[Any, Context], AsyncIterator[Any]]:
        async def wrapper(request: Any, context: Context) -> AsyncIterator[Any]:
            call = await self._open(method, request, context)
            enter_call(call)
            if isinstance(request, MalformedRequest):
                await self._refuse_malformed(call, request, context)
            items = behavior(request, context)
            if self._authenticator is not None:
                items = self._while_authenticated(items, self._authenticator, context)
            try:
                async for item in items:
                    yield item
            except Unauthenticated as exc:
                await self._end_unauthenticated(call, exc, context)
            except (asyncio.CancelledError, GeneratorExit):
                self._close_later(call, "error: CANCELLED")
                raise
            except BaseException:
                await self._close(call, context, failed=True)
                raise
            await self._close(call, context, failed=False)

        return wrapper


def _client_pem(context: Context) -> bytes:
    pems = list(context.auth_context().get("x509_pem_cert", []))
    if not pems:
        raise Unauthenticated(
            "no client certificate: this hub requires mutual TLS "
            "(give --cert/--key/--ca or TONGLIAN_CERT/TONGLIAN_KEY/TONGLIAN_CA)"
        )
    return bytes(pems[0])
