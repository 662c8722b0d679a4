"""Access control and accounting for every tonglian.v1 call: a gRPC server interceptor.

For each call it (1) names the caller from the client certificate (hub/authentication.py),
(2) requires operator rights for the methods that change the hub or show its
logs, (3) opens the call's audit record, which services enrich, and (4) appends
that record with the outcome when the call ends. Record-level policy (which chain,
namespace, schema, purpose) is decided in the Query service, which knows the record.

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
from hub.errors import HubError, PermissionDenied, Unauthenticated
from hub.policy import OperatorScope, PolicySource
from hub.principal import INSECURE, Principal
from hub.services.malformed import MalformedRequest, lenient
from hub.services.status import Context
from hub.services.stream_guard import guarded

log = logging.getLogger("tonglian.hub")

# How often an open stream re-checks its caller's certificate against the CRL (and it
# also wakes at the certificate's notAfter): a revoked caller's stream ends within this.
STREAM_RECHECK_SECONDS = 1.0

PREFIX = "/tonglian.v1."
SERVICE_ACTIONS = {"Query": "query", "ChainRegistry": "chains", "Relay": "relay", "Audit": "audit"}
# Methods any authenticated caller may use (Query methods check records against policy).
OPEN_METHODS = frozenset(
    {
        "Query/GetRecord",
        "Query/ListRecords",
        "Query/WatchRecords",
        "Query/EvaluatePredicate",
        "ChainRegistry/GetChain",
        "ChainRegistry/ListChains",
        "ChainRegistry/GetChainStatus",
    }
)


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


def _purpose(request: Message | MalformedRequest) -> str:
    if isinstance(request, MalformedRequest):
        return ""
    return (
        str(getattr(request, "purpose", ""))
        if "purpose" in request.DESCRIPTOR.fields_by_name
        else ""
    )


class AccessInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    def __init__(
        self, authenticator: Authenticator | None, policy: PolicySource, audit: AuditLog
    ) -> None:
        """`authenticator` None means the hub runs --insecure: every caller is INSECURE."""
        self._authenticator = authenticator
        self._policy = policy
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

    def _authorize(self, method: str, principal: Principal) -> tuple[str, OperatorScope | None]:
        """The rule that lets `principal` call `method` and the chains it may operate
        (None for agencies); PermissionDenied otherwise. Services check the chains a
        call touches against the scope; calls that span every chain are checked here."""
        short = method.removeprefix(PREFIX)
        policy = self._policy.current()
        scope = policy.operator_scope(principal.agency) if principal.is_operator else None
        if short in OPEN_METHODS:
            return "", scope
        name = "tonglian.v1." + short.replace("/", ".")
        if not principal.is_operator:
            raise PermissionDenied(
                f"{name} needs operator rights: the certificate of {principal.name} has "
                f"role {principal.role}"
            )
        decision = policy.operator(principal.agency)
        if not decision.allowed or scope is None:
            raise PermissionDenied(f"{name} needs operator rights: {decision.reason}")
        if short.startswith("Audit/"):
            scope.require_everywhere(f"{name} (the audit log)")
        return decision.rule, scope

    async def _open(self, method: str, request: Message, context: Context) -> AuditedCall:
        """Authenticates and authorizes; on refusal appends the event and aborts."""
        action = action_name(method)
        try:
            principal = self._principal(context)
        except HubError as exc:
            await self._audit.append(
                principal="unauthenticated",
                action=action,
                target=target_of(request),
                purpose=_purpose(request),
                outcome=f"denied: {exc}",
            )
            await context.abort(exc.status, str(exc))
            raise AssertionError("unreachable: abort raises") from None
        call = AuditedCall(principal, action, self._audit, target_of(request), _purpose(request))
        try:
            rule, call.operator = self._authorize(method, principal)
        except HubError as exc:
            call.denied_by = str(exc)
            await call.commit(f"denied: {exc}")
            await context.abort(exc.status, str(exc))
            raise AssertionError("unreachable: abort raises") from None
        if rule:
            call.detail["rule"] = rule
        return call

    async def _close(self, call: AuditedCall, context: Context, failed: bool) -> None:
        if call.event is not None:
            return
        code = context.code() if failed else None
        if code is None or code == grpc.StatusCode.OK:
            await call.commit("ok" if not failed else "error: UNKNOWN")
        else:
            await call.fail(code, str(context.details() or ""))

    async def _refuse_malformed(
        self, call: AuditedCall, request: MalformedRequest, context: Context
    ) -> None:
        call.detail["error"] = request.message()[:500]
        await call.commit("error: INVALID_ARGUMENT")
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message())

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
        await context.abort(exc.status, str(exc))

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
