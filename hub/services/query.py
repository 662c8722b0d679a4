"""tonglian.v1.Query over gRPC: maps messages to the query, watch, predicate and write use
cases (hub/usecases/), which decide policy and write the facts onto the call's audit record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from hub.audit.call import current_call
from hub.services.status import Context, streaming, unary
from hub.usecases.predicate import Predicates
from hub.usecases.query import RecordQueries
from hub.usecases.watch import RecordWatch
from hub.usecases.write import RecordWrites
from tonglian.v1 import query_pb2, query_pb2_grpc


class QueryService(query_pb2_grpc.QueryServicer):
    def __init__(
        self,
        queries: RecordQueries,
        watch: RecordWatch,
        predicates: Predicates,
        writes: RecordWrites,
    ) -> None:
        self._queries = queries
        self._watch = watch
        self._predicates = predicates
        self._writes = writes

    @unary
    async def GetRecord(
        self, request: query_pb2.GetRecordRequest, context: Context
    ) -> query_pb2.GetRecordResponse:
        call = current_call()
        record = await self._queries.get_record(
            call.principal, request.ref, request.at_height, request.purpose, call
        )
        return query_pb2.GetRecordResponse(record=record)

    @unary
    async def ListRecords(
        self, request: query_pb2.ListRecordsRequest, context: Context
    ) -> query_pb2.ListRecordsResponse:
        call = current_call()
        return await self._queries.list_records(
            call.principal,
            request.filter,
            request.page_size,
            request.page_token,
            request.purpose,
            call,
        )

    @streaming
    async def WatchRecords(
        self, request: query_pb2.WatchRecordsRequest, context: Context
    ) -> AsyncIterator[query_pb2.WatchRecordsResponse]:
        call = current_call()
        watch = self._watch.watch(call.principal, request.filter, request.purpose, call)
        async with aclosing(watch) as records:
            async for record in records:
                yield query_pb2.WatchRecordsResponse(record=record)

    @unary
    async def EvaluatePredicate(
        self, request: query_pb2.EvaluatePredicateRequest, context: Context
    ) -> query_pb2.EvaluatePredicateResponse:
        call = current_call()
        signed = await self._predicates.evaluate(
            call.principal,
            request.ref,
            request.predicate if request.HasField("predicate") else None,
            request.purpose,
            call,
        )
        return query_pb2.EvaluatePredicateResponse(
            answer=signed.answer,
            statement=signed.statement,
            signature=signed.signature,
            signer_certificate=signed.signer_certificate,
            evaluated_at=signed.evaluated_at,
            audit_sequence=signed.audit_sequence,
        )

    @unary
    async def PutRecord(
        self, request: query_pb2.PutRecordRequest, context: Context
    ) -> query_pb2.PutRecordResponse:
        call = current_call()
        return await self._writes.put(call.principal, request, call)
