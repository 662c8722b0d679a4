"""Client: the blocking twin of AsyncClient, for scripts and notebooks.

It runs an AsyncClient on a private event loop, so both share one implementation.
Not for use inside a running event loop (use AsyncClient there).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Any, TypeVar

from tonglian.v1 import audit_pb2, chains_pb2, query_pb2, records_pb2
from tonglian_client.client import AsyncClient, Ref
from tonglian_client.credentials import Credentials

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

    def get_record(
        self, ref: Ref, *, purpose: str, at_height: int = 0
    ) -> records_pb2.VerifiedRecord:
        result: records_pb2.VerifiedRecord = self._run(
            self._client.get_record, ref, purpose=purpose, at_height=at_height
        )
        return result

    def list_records(
        self, flt: query_pb2.RecordFilter, *, purpose: str, limit: int = 0
    ) -> Iterator[records_pb2.VerifiedRecord]:
        return self._iterate(self._client.list_records(flt, purpose=purpose, limit=limit))

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

    def list_chains(self) -> list[chains_pb2.Chain]:
        result: list[chains_pb2.Chain] = self._run(self._client.list_chains)
        return result

    def audit_head(self) -> audit_pb2.GetLogHeadResponse:
        result: audit_pb2.GetLogHeadResponse = self._run(self._client.audit_head)
        return result
