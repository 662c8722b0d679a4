"""Client: the blocking twin of AsyncClient, for scripts and notebooks.

It runs an AsyncClient on a private event loop, so both share one implementation.
Not for use inside a running event loop (use AsyncClient there).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from tonglian_client.client import AsyncClient, Ref
from tonglian_client.credentials import Credentials

if TYPE_CHECKING:
    from tonglian.v1 import audit_pb2, chains_pb2, query_pb2, records_pb2, relay_pb2

T = TypeVar("T")


class Client:
    def __init__(
        self, address: str, credentials: Credentials | None, *, insecure: bool = False
    ) -> None:
        self._runner = asyncio.Runner()

        async def make() -> AsyncClient:
            return AsyncClient(address, credentials, insecure=insecure)

        self._client = self._runner.run(make())

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._runner.run(self._client.close())
        self._runner.close()

    def _iterate(self, agen: AsyncIterator[T]) -> Iterator[T]:
        while True:
            try:
                yield self._runner.run(agen.__anext__())  # type: ignore[arg-type]
            except StopAsyncIteration:
                return

    def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._runner.run(fn(*args, **kwargs))

    # Queries

    def get_record(
        self, ref: Ref, *, purpose: str, at_height: int = 0
    ) -> records_pb2.VerifiedRecord:
        result: records_pb2.VerifiedRecord = self._run(
            self._client.get_record, ref, purpose=purpose, at_height=at_height
        )
        return result

    def list_records(
        self, flt: query_pb2.RecordFilter, *, purpose: str, limit: int = 0, page_size: int = 0
    ) -> Iterator[records_pb2.VerifiedRecord]:
        return self._iterate(
            self._client.list_records(flt, purpose=purpose, limit=limit, page_size=page_size)
        )

    def watch_records(
        self, flt: query_pb2.RecordFilter, *, purpose: str
    ) -> Iterator[records_pb2.VerifiedRecord]:
        return self._iterate(self._client.watch_records(flt, purpose=purpose))

    def evaluate_predicate(
        self, ref: Ref, predicate: query_pb2.Predicate, *, purpose: str
    ) -> query_pb2.EvaluatePredicateResponse:
        result: query_pb2.EvaluatePredicateResponse = self._run(
            self._client.evaluate_predicate, ref, predicate, purpose=purpose
        )
        return result

    def put_record(
        self,
        ref: Ref,
        value: Any,
        *,
        schema: str,
        purpose: str,
        request_id: str = "",
        wait: bool = False,
    ) -> query_pb2.PutRecordResponse:
        """See AsyncClient.put_record."""
        result: query_pb2.PutRecordResponse = self._run(
            self._client.put_record,
            ref,
            value,
            schema=schema,
            purpose=purpose,
            request_id=request_id,
            wait=wait,
        )
        return result

    # Chains

    def register_chain(self, chain: chains_pb2.Chain) -> chains_pb2.Chain:
        result: chains_pb2.Chain = self._run(self._client.register_chain, chain)
        return result

    def get_chain(self, chain_id: str) -> chains_pb2.Chain:
        result: chains_pb2.Chain = self._run(self._client.get_chain, chain_id)
        return result

    def list_chains(self) -> list[chains_pb2.Chain]:
        result: list[chains_pb2.Chain] = self._run(self._client.list_chains)
        return result

    def remove_chain(self, chain_id: str) -> None:
        self._run(self._client.remove_chain, chain_id)

    def put_secret(self, chain_id: str, name: str, value: bytes) -> None:
        self._run(self._client.put_secret, chain_id, name, value)

    def list_secrets(self, chain_id: str) -> list[str]:
        result: list[str] = self._run(self._client.list_secrets, chain_id)
        return result

    def remove_secret(self, chain_id: str, name: str) -> None:
        self._run(self._client.remove_secret, chain_id, name)

    def chain_status(self, chain_id: str) -> chains_pb2.GetChainStatusResponse:
        result: chains_pb2.GetChainStatusResponse = self._run(self._client.chain_status, chain_id)
        return result

    # Relay

    def create_route(self, route: relay_pb2.Route) -> relay_pb2.Route:
        result: relay_pb2.Route = self._run(self._client.create_route, route)
        return result

    def get_route(self, route_id: str) -> relay_pb2.Route:
        result: relay_pb2.Route = self._run(self._client.get_route, route_id)
        return result

    def list_routes(self) -> list[relay_pb2.Route]:
        result: list[relay_pb2.Route] = self._run(self._client.list_routes)
        return result

    def pause_route(self, route_id: str) -> relay_pb2.Route:
        result: relay_pb2.Route = self._run(self._client.pause_route, route_id)
        return result

    def resume_route(self, route_id: str) -> relay_pb2.Route:
        result: relay_pb2.Route = self._run(self._client.resume_route, route_id)
        return result

    def delete_route(self, route_id: str) -> None:
        self._run(self._client.delete_route, route_id)

    def list_deliveries(
        self,
        *,
        route_id: str = "",
        state: relay_pb2.DeliveryState.ValueType | None = None,
        limit: int = 0,
    ) -> list[relay_pb2.Delivery]:
        result: list[relay_pb2.Delivery] = self._run(
            self._client.list_deliveries, route_id=route_id, state=state, limit=limit
        )
        return result

    def get_delivery(self, delivery_id: str) -> relay_pb2.Delivery:
        result: relay_pb2.Delivery = self._run(self._client.get_delivery, delivery_id)
        return result

    def retry_delivery(self, delivery_id: str) -> relay_pb2.Delivery:
        result: relay_pb2.Delivery = self._run(self._client.retry_delivery, delivery_id)
        return result

    def watch_deliveries(self, *, route_id: str = "") -> Iterator[relay_pb2.Delivery]:
        return self._iterate(self._client.watch_deliveries(route_id=route_id))

    # Audit

    def audit_head(self) -> audit_pb2.GetLogHeadResponse:
        result: audit_pb2.GetLogHeadResponse = self._run(self._client.audit_head)
        return result

    def audit_events(
        self, *, from_sequence: int = 1, principal: str = "", action: str = "", limit: int = 0
    ) -> list[audit_pb2.AuditEvent]:
        result: list[audit_pb2.AuditEvent] = self._run(
            self._client.audit_events,
            from_sequence=from_sequence,
            principal=principal,
            action=action,
            limit=limit,
        )
        return result

    def export_audit(self, *, from_sequence: int = 1) -> list[audit_pb2.AuditEvent]:
        result: list[audit_pb2.AuditEvent] = self._run(
            self._client.export_audit, from_sequence=from_sequence
        )
        return result

    def audit_anchors(self) -> list[audit_pb2.AuditAnchor]:
        result: list[audit_pb2.AuditAnchor] = self._run(self._client.audit_anchors)
        return result
