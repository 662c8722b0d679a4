"""tonglian.v1.Query over gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tonglian.v1 import query_pb2, query_pb2_grpc

from hub.errors import InvalidInput, Unimplemented
from hub.records import RecordReader
from hub.services.status import Context, streaming, unary

MAX_PURPOSE = 200


def check_purpose(purpose: str) -> None:
    if len(purpose) > MAX_PURPOSE:
        raise InvalidInput(f"purpose is longer than {MAX_PURPOSE} characters")


class QueryService(query_pb2_grpc.QueryServicer):
    def __init__(self, reader: RecordReader) -> None:
        self._reader = reader

    @unary
    async def GetRecord(
        self, request: query_pb2.GetRecordRequest, context: Context
    ) -> query_pb2.GetRecordResponse:
        check_purpose(request.purpose)
        record = await self._reader.get(request.ref, request.at_height)
        return query_pb2.GetRecordResponse(record=record)

    @unary
    async def ListRecords(
        self, request: query_pb2.ListRecordsRequest, context: Context
    ) -> query_pb2.ListRecordsResponse:
        check_purpose(request.purpose)
        return await self._reader.list(request.filter, request.page_size, request.page_token)

    @streaming
    async def WatchRecords(
        self, request: query_pb2.WatchRecordsRequest, context: Context
    ) -> AsyncIterator[query_pb2.WatchRecordsResponse]:
        check_purpose(request.purpose)
        async for record in self._reader.watch(request.filter):
            yield query_pb2.WatchRecordsResponse(record=record)

    @unary
    async def EvaluatePredicate(
        self, request: query_pb2.EvaluatePredicateRequest, context: Context
    ) -> query_pb2.EvaluatePredicateResponse:
        raise Unimplemented("EvaluatePredicate")
