"""AsyncClient: every public call of a hub (chains, queries, predicates, watches, routes,
deliveries, audit), over one mutual-TLS channel.

Failures are raised as the tonglian_client.errors class of the hub's ErrorInfo reason
(PolicyDenied, ChainUnavailable, ProofFailed, ...); a hub that does not answer as
HubUnreachable, and a refused TLS handshake as HandshakeRefused with its likely cause.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import grpc

from tonglian_client.channel import error_from, open_channel
from tonglian_client.credentials import Credentials
from tonglian_client.errors import CredentialsError, InvalidRequest
from tonglian_client.lazy_modules import lazy_module
from tonglian_client.secret_files import staged

if TYPE_CHECKING:
    from tonglian.v1 import (
        audit_pb2,
        audit_pb2_grpc,
        chains_pb2,
        chains_pb2_grpc,
        query_pb2,
        query_pb2_grpc,
        records_pb2,
        relay_pb2,
        relay_pb2_grpc,
    )
else:
    # Each service's code loads when the first call to it is made (hub.cli starts fast).
    audit_pb2 = lazy_module("tonglian.v1.audit_pb2")
    audit_pb2_grpc = lazy_module("tonglian.v1.audit_pb2_grpc")
    chains_pb2 = lazy_module("tonglian.v1.chains_pb2")
    chains_pb2_grpc = lazy_module("tonglian.v1.chains_pb2_grpc")
    query_pb2 = lazy_module("tonglian.v1.query_pb2")
    query_pb2_grpc = lazy_module("tonglian.v1.query_pb2_grpc")
    records_pb2 = lazy_module("tonglian.v1.records_pb2")
    relay_pb2 = lazy_module("tonglian.v1.relay_pb2")
    relay_pb2_grpc = lazy_module("tonglian.v1.relay_pb2_grpc")

T = TypeVar("T")
Ref: TypeAlias = "str | records_pb2.RecordRef"


def parse_ref(ref: Ref) -> records_pb2.RecordRef:
    """`CHAIN/NAMESPACE/KEY` (the key may contain '/') or a RecordRef."""
    if isinstance(ref, records_pb2.RecordRef):
        return ref
    parts = ref.split("/", 2)
    if len(parts) != 3 or not all(parts):
        raise InvalidRequest(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"record reference {ref!r} must be CHAIN/NAMESPACE/KEY",
        )
    return records_pb2.RecordRef(chain_id=parts[0], namespace=parts[1], key=parts[2])


class AsyncClient:
    def __init__(
        self, address: str, credentials: Credentials | None, *, insecure: bool = False
    ) -> None:
        """Mutual TLS with `credentials`; plaintext only with insecure=True (an --insecure hub)."""
        if credentials is None and not insecure:
            raise CredentialsError(
                "no client certificate: pass credentials=Credentials(cert, key, ca) (or "
                "Credentials.from_env(), which reads TONGLIAN_CERT/TONGLIAN_KEY/TONGLIAN_CA), "
                "or insecure=True for a hub run with --insecure"
            )
        self.address = address
        self.credentials = credentials
        self.channel = open_channel(address, credentials)

    @cached_property
    def _query(self) -> query_pb2_grpc.QueryAsyncStub:
        return query_pb2_grpc.QueryStub(self.channel)

    @cached_property
    def _chains(self) -> chains_pb2_grpc.ChainRegistryAsyncStub:
        return chains_pb2_grpc.ChainRegistryStub(self.channel)

    @cached_property
    def _audit(self) -> audit_pb2_grpc.AuditAsyncStub:
        return audit_pb2_grpc.AuditStub(self.channel)

    @cached_property
    def _relay(self) -> relay_pb2_grpc.RelayAsyncStub:
        return relay_pb2_grpc.RelayStub(self.channel)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close(None)

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            raise await error_from(exc, self.address, self.credentials) from exc

    async def _stream(self, call: Any) -> AsyncIterator[Any]:
        try:
            async for item in call:
                yield item
        except grpc.aio.AioRpcError as exc:
            raise await error_from(exc, self.address, self.credentials) from exc

    # Queries

    async def get_record(
        self, ref: Ref, *, purpose: str, at_height: int = 0
    ) -> records_pb2.VerifiedRecord:
        resp = await self._call(
            self._query.GetRecord(
                query_pb2.GetRecordRequest(ref=parse_ref(ref), purpose=purpose, at_height=at_height)
            )
        )
        return resp.record

    async def list_records(
        self,
        flt: query_pb2.RecordFilter,
        *,
        purpose: str,
        limit: int = 0,
        page_size: int = 0,
    ) -> AsyncIterator[records_pb2.VerifiedRecord]:
        """Every record the filter selects (and policy lets through), page by page."""
        token, seen = "", 0
        while True:
            resp = await self._call(
                self._query.ListRecords(
                    query_pb2.ListRecordsRequest(
                        filter=flt, purpose=purpose, page_size=page_size, page_token=token
                    )
                )
            )
            for record in resp.records:
                yield record
                seen += 1
                if limit and seen >= limit:
                    return
            token = resp.next_page_token
            if not token:
                return

    async def watch_records(
        self, flt: query_pb2.RecordFilter, *, purpose: str
    ) -> AsyncIterator[records_pb2.VerifiedRecord]:
        stream = self._query.WatchRecords(
            query_pb2.WatchRecordsRequest(filter=flt, purpose=purpose)
        )
        try:
            async for resp in self._stream(stream):
                yield resp.record
        finally:
            stream.cancel()

    async def evaluate_predicate(
        self, ref: Ref, predicate: query_pb2.Predicate, *, purpose: str
    ) -> query_pb2.EvaluatePredicateResponse:
        """A signed yes/no answer; check it with tonglian_client.verify.verify_answer."""
        return await self._call(
            self._query.EvaluatePredicate(
                query_pb2.EvaluatePredicateRequest(
                    ref=parse_ref(ref), predicate=predicate, purpose=purpose
                )
            )
        )

    async def put_record(
        self,
        ref: Ref,
        value: Any,
        *,
        schema: str,
        purpose: str,
        request_id: str = "",
        wait: bool = False,
    ) -> query_pb2.PutRecordResponse:
        """Puts `value` (any JSON value) at `ref` through the hub; needs a policy rule with
        access "write". `request_id` makes the write idempotent: send the same one when you
        retry (empty: a new random one, returned in the receipt). With `wait`, answers once
        the record is final, with the verified record read back and its proof bundle."""
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(
                grpc.StatusCode.INVALID_ARGUMENT, f"value is not a JSON value: {exc}"
            ) from None
        return await self._call(
            self._query.PutRecord(
                query_pb2.PutRecordRequest(
                    ref=parse_ref(ref),
                    schema=schema,
                    value_json=text,
                    purpose=purpose,
                    request_id=request_id or uuid.uuid4().hex,
                    wait=wait,
                )
            )
        )

    # Chains

    async def list_chains(self) -> list[chains_pb2.Chain]:
        chains: list[chains_pb2.Chain] = []
        token = ""
        while True:
            resp = await self._call(
                self._chains.ListChains(chains_pb2.ListChainsRequest(page_token=token))
            )
            chains.extend(resp.chains)
            token = resp.next_page_token
            if not token:
                return chains

    async def get_chain(self, chain_id: str) -> chains_pb2.Chain:
        resp = await self._call(
            self._chains.GetChain(chains_pb2.GetChainRequest(chain_id=chain_id))
        )
        return resp.chain

    async def register_chain(self, chain: chains_pb2.Chain) -> chains_pb2.Chain:
        """Registers `chain`. A secret it names as a file (SecretRef.file) is read here,
        where the client runs, put into the chain's own secret store on the hub and
        referenced by name: the hub itself never opens a file a registration names."""
        to_register, puts = staged(chain)
        for put in puts:
            await self._call(self._chains.PutSecret(put))
        resp = await self._call(
            self._chains.RegisterChain(chains_pb2.RegisterChainRequest(chain=to_register))
        )
        return resp.chain

    async def put_secret(self, chain_id: str, name: str, value: bytes) -> None:
        """Writes a secret into the chain's store on the replica that answers (operators)."""
        await self._call(
            self._chains.PutSecret(
                chains_pb2.PutSecretRequest(chain_id=chain_id, name=name, value=value)
            )
        )

    async def list_secrets(self, chain_id: str) -> list[str]:
        """The names in the chain's secret store (never the values)."""
        resp = await self._call(
            self._chains.ListSecrets(chains_pb2.ListSecretsRequest(chain_id=chain_id))
        )
        return list(resp.names)

    async def remove_secret(self, chain_id: str, name: str) -> None:
        await self._call(
            self._chains.RemoveSecret(chains_pb2.RemoveSecretRequest(chain_id=chain_id, name=name))
        )

    async def remove_chain(self, chain_id: str) -> None:
        await self._call(self._chains.RemoveChain(chains_pb2.RemoveChainRequest(chain_id=chain_id)))

    async def chain_status(self, chain_id: str) -> chains_pb2.GetChainStatusResponse:
        """The chain's head as its adapter reports it now (ChainUnavailable when it is down)."""
        return await self._call(
            self._chains.GetChainStatus(chains_pb2.GetChainStatusRequest(chain_id=chain_id))
        )

    # Relay (operators)

    async def create_route(self, route: relay_pb2.Route) -> relay_pb2.Route:
        resp = await self._call(self._relay.CreateRoute(relay_pb2.CreateRouteRequest(route=route)))
        return resp.route

    async def get_route(self, route_id: str) -> relay_pb2.Route:
        resp = await self._call(self._relay.GetRoute(relay_pb2.GetRouteRequest(route_id=route_id)))
        return resp.route

    async def list_routes(self) -> list[relay_pb2.Route]:
        routes: list[relay_pb2.Route] = []
        token = ""
        while True:
            resp = await self._call(
                self._relay.ListRoutes(relay_pb2.ListRoutesRequest(page_token=token))
            )
            routes.extend(resp.routes)
            token = resp.next_page_token
            if not token:
                return routes

    async def pause_route(self, route_id: str) -> relay_pb2.Route:
        resp = await self._call(
            self._relay.PauseRoute(relay_pb2.PauseRouteRequest(route_id=route_id))
        )
        return resp.route

    async def resume_route(self, route_id: str) -> relay_pb2.Route:
        resp = await self._call(
            self._relay.ResumeRoute(relay_pb2.ResumeRouteRequest(route_id=route_id))
        )
        return resp.route

    async def delete_route(self, route_id: str) -> None:
        await self._call(self._relay.DeleteRoute(relay_pb2.DeleteRouteRequest(route_id=route_id)))

    async def list_deliveries(
        self,
        *,
        route_id: str = "",
        state: relay_pb2.DeliveryState.ValueType | None = None,
        limit: int = 0,
    ) -> list[relay_pb2.Delivery]:
        """Deliveries, oldest first, of one route (or every route) in `state` (or any)."""
        if state is None:
            state = relay_pb2.DELIVERY_STATE_UNSPECIFIED
        found: list[relay_pb2.Delivery] = []
        token = ""
        while True:
            resp = await self._call(
                self._relay.ListDeliveries(
                    relay_pb2.ListDeliveriesRequest(
                        route_id=route_id,
                        state=state,
                        page_token=token,
                        page_size=min(1000, limit - len(found)) if limit else 0,
                    )
                )
            )
            found.extend(resp.deliveries)
            token = resp.next_page_token
            if not token or (limit and len(found) >= limit):
                return found[:limit] if limit else found

    async def get_delivery(self, delivery_id: str) -> relay_pb2.Delivery:
        resp = await self._call(
            self._relay.GetDelivery(relay_pb2.GetDeliveryRequest(delivery_id=delivery_id))
        )
        return resp.delivery

    async def retry_delivery(self, delivery_id: str) -> relay_pb2.Delivery:
        resp = await self._call(
            self._relay.RetryDelivery(relay_pb2.RetryDeliveryRequest(delivery_id=delivery_id))
        )
        return resp.delivery

    async def watch_deliveries(self, *, route_id: str = "") -> AsyncIterator[relay_pb2.Delivery]:
        """Delivery updates as they happen (WatchOverflow if this reader falls behind)."""
        stream = self._relay.WatchDeliveries(relay_pb2.WatchDeliveriesRequest(route_id=route_id))
        try:
            async for resp in self._stream(stream):
                yield resp.delivery
        finally:
            stream.cancel()

    # Audit (operators)

    async def audit_head(self) -> audit_pb2.GetLogHeadResponse:
        return await self._call(self._audit.GetLogHead(audit_pb2.GetLogHeadRequest()))

    async def audit_events(
        self, *, from_sequence: int = 1, principal: str = "", action: str = "", limit: int = 0
    ) -> list[audit_pb2.AuditEvent]:
        events: list[audit_pb2.AuditEvent] = []
        start = from_sequence
        while True:
            resp = await self._call(
                self._audit.ListEvents(
                    audit_pb2.ListEventsRequest(
                        from_sequence=start, principal=principal, action=action, page_size=1000
                    )
                )
            )
            events.extend(resp.events)
            if limit and len(events) >= limit:
                return events[:limit]
            if not resp.next_sequence:
                return events
            start = resp.next_sequence

    async def export_audit(self, *, from_sequence: int = 1) -> list[audit_pb2.AuditEvent]:
        stream = self._audit.ExportEvents(
            audit_pb2.ExportEventsRequest(from_sequence=from_sequence)
        )
        return [resp.event async for resp in self._stream(stream)]

    async def audit_anchors(self) -> list[audit_pb2.AuditAnchor]:
        resp = await self._call(self._audit.ListAnchors(audit_pb2.ListAnchorsRequest()))
        return list(resp.anchors)

    async def audit_chain_heads(self) -> AsyncIterator[records_pb2.VerifiedRecord]:
        """The audit heads on the hub's anchor chain, verified (none if it anchors on none):
        readable by whoever may read the log, with no read rule on that chain."""
        token = ""
        while True:
            resp = await self._call(
                self._audit.ListChainHeads(audit_pb2.ListChainHeadsRequest(page_token=token))
            )
            for record in resp.records:
                yield record
            token = resp.next_page_token
            if not token:
                return
