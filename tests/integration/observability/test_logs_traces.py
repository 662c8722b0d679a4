"""One query through a real hub exporting traces to an in-test OTLP receiver and logging
JSON: the spans form one tree down to the adapter call, and the call's log line and
audit event carry its trace id."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import grpc
import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from devnets.base import DevnetInfo
from devnets.custom.writer import write_record
from tonglian.v1 import chains_pb2
from tonglian_client.client import AsyncClient
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration

GET = "/tonglian.v1.Query/GetRecord"
LICENCE = {"licence_no": "T-9", "holder": "x", "status": "active", "issued_on": "2026-01-05"}


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace collector that keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[trace_pb2.Span] = []

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: object
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.spans.extend(scope.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, int]]:
    server = grpc.aio.server()
    servicer = Receiver()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield servicer, port
    finally:
        await server.stop(0)


def children(spans: Sequence[trace_pb2.Span], parent: trace_pb2.Span) -> list[trace_pb2.Span]:
    return [s for s in spans if s.parent_span_id == parent.span_id]


async def test_one_query_is_one_tree_of_spans_down_to_the_adapter(
    receiver: tuple[Receiver, int], tmp_path: Path, custom_ledger: DevnetInfo
) -> None:
    collected, port = receiver
    hub = HubProcess(
        tmp_path / "hub",
        insecure=True,
        extra_args=("--log-format", "json", "--otlp-endpoint", f"http://127.0.0.1:{port}"),
    )
    hub.start()
    try:
        await hub.wait_serving()
        await write_record(
            custom_ledger.endpoints["http"], "licences", "T-9", "gov.license.business/v1", LICENCE
        )
        chain = chains_pb2.Chain()
        ParseDict(custom_ledger.chain, chain)
        chain.chain_id = "traced"
        async with AsyncClient(hub.address, None, insecure=True) as client:
            await client.register_chain(chain)
            vr = await client.get_record("traced/licences/T-9", purpose="audit")
            assert vr.verification.verified
            events = await client.audit_events(action="query.get_record")
        deadline = time.monotonic() + 30
        while not any(s.name == GET for s in collected.spans):
            assert time.monotonic() < deadline, [s.name for s in collected.spans]
            await asyncio.sleep(0.2)
    finally:
        hub.stop()

    root = next(s for s in collected.spans if s.name == GET)
    assert root.parent_span_id == b"" and root.kind == trace_pb2.Span.SPAN_KIND_SERVER
    tree = [s for s in collected.spans if s.trace_id == root.trace_id]
    below = {s.name for s in children(tree, root)}
    assert below == {"adapter.read", "verify"}, below
    adapter = next(s for s in tree if s.name == "adapter.read")
    attributes = {a.key: a.value.string_value for a in adapter.attributes}
    assert attributes["chain"] == "traced" and attributes["adapter"] == "custom"

    trace_id = root.trace_id.hex()
    assert json.loads(events[-1].detail_json)["trace_id"] == trace_id
    lines = [json.loads(line) for line in hub.log_path.read_text().splitlines() if line[:1] == "{"]
    call = [line for line in lines if line.get("method") == GET and line.get("outcome") == "OK"]
    assert len(call) == 1, call
    assert call[0]["trace_id"] == trace_id
    assert call[0]["agency"] == "anonymous"
    assert len(call[0]["request_id"]) == 16
