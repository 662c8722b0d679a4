"""Limits per principal, and requests the hub cannot hold, against a real hub over mutual TLS.

One agency past its stream limits is refused RESOURCE_EXHAUSTED with the limit named and
audited, while another agency's read still succeeds (attack 5). A request with a NUL byte
in any string field, or bytes that are not UTF-8, is refused INVALID_ARGUMENT before any
use case and audited with the NUL escaped, on SQLite and on PostgreSQL, where the audit
insert used to fail and answer INTERNAL (attack 9); so is a forged page token.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
from google.protobuf.json_format import ParseDict

from devnets.base import DevnetInfo
from devnets.custom.writer import write_record
from tonglian.v1 import chains_pb2, query_pb2, query_pb2_grpc, records_pb2
from tonglian_client.channel import open_channel
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import Credentials
from tonglian_client.errors import ClientError
from tonglian_tools.hub_process import OPERATOR_ORG, HubProcess

pytestmark = pytest.mark.integration

CHAIN = "custom-1"
# The same ledger behind a proxy that can hold every request (test of calls in progress).
STALL = "stall-1"
PURPOSE = "business-registration"
SCHEMA = "gov.license.business/v1"
LICENCE = {"licence_no": "L-1", "holder": "限额测试", "status": "active", "issued_on": "2026-01-05"}
POLICY = f"""\
version: 1
principals:
  {OPERATOR_ORG}:
    operator: true
    rules: []
  market-regulator:
    rules:
      - name: regulator-licences
        chains: [{CHAIN}, {STALL}]
        namespaces: [licences]
        purposes: [{PURPOSE}]
  tax-bureau:
    rules:
      - name: tax-licences
        chains: [{CHAIN}, {STALL}]
        namespaces: [licences]
        purposes: [{PURPOSE}]
"""
LIMITS = {
    "TONGLIAN_MAX_STREAMS_PER_CERTIFICATE": "2",
    "TONGLIAN_MAX_STREAMS_PER_AGENCY": "3",
    "TONGLIAN_MAX_MESSAGE_BYTES": "65536",
    "TONGLIAN_MAX_CALLS_PER_AGENCY": "1",
    "TONGLIAN_ADAPTER_TIMEOUT": "4",
}


def start_hub(root: object, info: DevnetInfo, *extra: str, **env: str) -> HubProcess:
    hub = HubProcess(root, policy=POLICY, env=env, extra_args=extra)  # type: ignore[arg-type]
    hub.start()
    try:
        asyncio.run(hub.wait_serving())

        async def setup() -> None:
            for key in ("L-1", "L-2"):
                await write_record(info.endpoints["http"], "licences", key, SCHEMA, LICENCE)
            chain = chains_pb2.Chain()
            ParseDict(info.chain, chain)
            chain.chain_id = CHAIN
            assert hub.credentials is not None
            async with AsyncClient(hub.address, hub.credentials) as ops:
                await ops.register_chain(chain)

        asyncio.run(setup())
    except BaseException:
        hub.stop()
        raise
    return hub


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, custom_ledger: DevnetInfo
) -> Iterator[HubProcess]:
    process = start_hub(tmp_path_factory.mktemp("limits") / "hub", custom_ledger, **LIMITS)
    try:
        yield process
    finally:
        process.stop()


class Watch:
    """One WatchRecords stream, held open until `close`."""

    def __init__(self, client: AsyncClient) -> None:
        flt = query_pb2.RecordFilter(chain_id=CHAIN, namespace="licences", key_prefix="NONE-")
        self.stream: AsyncIterator[records_pb2.VerifiedRecord] = client.watch_records(
            flt, purpose=PURPOSE
        )
        self.task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        async for _ in self.stream:
            pass

    async def refusal(self, timeout: float = 10.0) -> BaseException | None:
        """How the stream ended, if it ended within `timeout` (None: still open)."""
        done, _ = await asyncio.wait({self.task}, timeout=timeout)
        return self.task.exception() if done else None

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def _audit(hub: HubProcess, principal: str) -> list[tuple[str, str, str, str]]:
    assert hub.credentials is not None
    async with AsyncClient(hub.address, hub.credentials) as ops:
        events = await ops.audit_events(principal=principal)
    return [
        (e.action, e.target, e.outcome, json.loads(e.detail_json or "{}").get("error", ""))
        for e in events
    ]


async def test_an_agency_past_its_stream_limits_is_refused_and_others_still_read(
    hub: HubProcess,
) -> None:
    alice = hub.issue("alice", org="market-regulator")
    bob = hub.issue("bob", org="market-regulator")
    carol = hub.issue("carol", org="market-regulator")
    dave = hub.issue("dave", org="tax-bureau")
    alice_serial = format(_serial(alice), "x")
    async with (
        AsyncClient(hub.address, alice) as a,
        AsyncClient(hub.address, bob) as b,
        AsyncClient(hub.address, carol) as c,
        AsyncClient(hub.address, dave) as d,
    ):
        held = [Watch(a), Watch(a)]
        assert [await w.refusal(1.0) for w in held] == [None, None]
        # A third stream of the same certificate: past max_streams_per_certificate.
        third = Watch(a)
        err = await third.refusal()
        assert err is not None and getattr(err, "status", None) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED
        ), err
        assert str(err) == (
            "RESOURCE_EXHAUSTED: certificate 'market-regulator/alice' (serial "
            f"{alice_serial}) has 2 open streams, the limit (max_streams_per_certificate); "
            "close some or raise it in the hub's config"
        )
        assert getattr(err, "reason", "") == "LIMIT_EXCEEDED"
        # Another certificate of the agency takes the agency's third; a fourth is refused.
        held.append(Watch(b))
        assert await held[-1].refusal(1.0) is None
        fourth = Watch(c)
        err = await fourth.refusal()
        assert str(err) == (
            "RESOURCE_EXHAUSTED: agency 'market-regulator' has 3 open streams, the limit "
            "(max_streams_per_agency); close some or raise it in the hub's config"
        )
        # The flooding agency's unary reads and another agency's reads and streams go on.
        got = await a.get_record(f"{CHAIN}/licences/L-1", purpose=PURPOSE)
        assert got.record.ref.key == "L-1"
        got = await d.get_record(f"{CHAIN}/licences/L-1", purpose=PURPOSE)
        assert json.loads(got.record.value)["holder"] == "限额测试"
        other = Watch(d)
        assert await other.refusal(1.0) is None
        # A stream closed gives its slot back.
        await held.pop(0).close()
        again = Watch(c)
        assert await again.refusal(1.5) is None
        for w in (*held, other, again):
            await w.close()

    events = await _audit(hub, "market-regulator/alice")
    assert (
        "query.watch_records",
        f"{CHAIN}/licences/NONE-*",
        "error: RESOURCE_EXHAUSTED",
        f"certificate 'market-regulator/alice' (serial {alice_serial}) has 2 open streams, "
        "the limit (max_streams_per_certificate); close some or raise it in the hub's config",
    ) in events
    carol_events = await _audit(hub, "market-regulator/carol")
    assert any(
        outcome == "error: RESOURCE_EXHAUSTED" and "(max_streams_per_agency)" in error
        for _, _, outcome, error in carol_events
    ), carol_events


class StallingProxy:
    """A TCP proxy to the ledger that holds what the hub sends while `stalled`."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self._upstream = (host, int(port))
        self.open = asyncio.Event()
        self.open.set()
        self.url = ""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, gated: bool) -> None:
            try:
                while data := await src.read(65536):
                    if gated:
                        await self.open.wait()
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        for task in (pump(reader, up_writer, True), pump(up_reader, writer, False)):
            t = asyncio.ensure_future(task)
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        self.open.set()
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def test_an_agency_past_its_calls_in_progress_is_refused_and_others_still_read(
    hub: HubProcess, custom_ledger: DevnetInfo
) -> None:
    proxy = StallingProxy(custom_ledger.endpoints["http"])
    await proxy.start()
    try:
        chain = chains_pb2.Chain()
        ParseDict(custom_ledger.chain, chain)
        chain.chain_id = STALL
        chain.adapter.options.update({"url": proxy.url})
        assert hub.credentials is not None
        async with AsyncClient(hub.address, hub.credentials) as ops:
            await ops.register_chain(chain)
        gina = hub.issue("gina", org="market-regulator")
        hal = hub.issue("hal", org="market-regulator")
        dave = hub.issue("dave-2", org="tax-bureau")
        async with (
            AsyncClient(hub.address, gina) as g,
            AsyncClient(hub.address, hal) as h,
            AsyncClient(hub.address, dave) as d,
        ):
            await g.get_record(f"{STALL}/licences/L-1", purpose=PURPOSE)  # through the proxy
            proxy.open.clear()
            held = asyncio.ensure_future(g.get_record(f"{STALL}/licences/L-1", purpose=PURPOSE))
            await asyncio.sleep(1.0)
            assert not held.done()
            with pytest.raises(ClientError) as err:
                await h.get_record(f"{CHAIN}/licences/L-1", purpose=PURPOSE)
            assert err.value.status == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert str(err.value) == (
                "RESOURCE_EXHAUSTED: agency 'market-regulator' has 1 calls in progress, the "
                "limit (max_calls_per_agency); wait for some to finish or raise it in the "
                "hub's config"
            )
            # Another agency is not held up by it.
            got = await d.get_record(f"{CHAIN}/licences/L-1", purpose=PURPOSE)
            assert got.record.ref.key == "L-1"
            proxy.open.set()
            await held
            # The slot is given back when the call ends.
            await h.get_record(f"{CHAIN}/licences/L-1", purpose=PURPOSE)
    finally:
        await proxy.close()
    events = await _audit(hub, "market-regulator/hal")
    assert events[0][2:] == (
        "error: RESOURCE_EXHAUSTED",
        "agency 'market-regulator' has 1 calls in progress, the limit (max_calls_per_agency); "
        "wait for some to finish or raise it in the hub's config",
    )
    assert events[1][2] == "ok"


def _serial(creds: Credentials) -> int:
    from cryptography import x509

    return x509.load_pem_x509_certificate(creds.cert.read_bytes()).serial_number


# Attack 9: what the store cannot hold, on both stores.


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store_hub(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    custom_ledger: DevnetInfo,
) -> Iterator[HubProcess]:
    extra: tuple[str, ...] = ()
    if request.param == "postgresql":
        extra = ("--store", request.getfixturevalue("postgres_url"))
    process = start_hub(tmp_path_factory.mktemp(f"nul-{request.param}") / "hub", custom_ledger,
                        *extra)  # fmt: skip
    try:
        yield process
    finally:
        process.stop()


async def test_nul_bytes_and_bad_utf8_are_refused_and_audited(any_store_hub: HubProcess) -> None:
    hub = any_store_hub
    alice = hub.issue("alice", org="market-regulator")
    async with open_channel(hub.address, alice) as channel:
        query = query_pb2_grpc.QueryStub(channel)
        for ref, purpose, field in (
            (records_pb2.RecordRef(chain_id=CHAIN, namespace="licences", key="L\x00-1"), PURPOSE,
             "ref.key"),
            (records_pb2.RecordRef(chain_id="evm-\x00", namespace="secret", key="K"), PURPOSE,
             "ref.chain_id"),
            (records_pb2.RecordRef(chain_id=CHAIN, namespace="licences", key="L-1"), "p\x00",
             "purpose"),
        ):  # fmt: skip
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await query.GetRecord(query_pb2.GetRecordRequest(ref=ref, purpose=purpose))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert err.value.details() == (
                f"{field} contains a NUL byte (U+0000), which the hub neither stores nor "
                "looks up; remove it"
            )
        # A NUL deep inside a listing's filter, on a stream.
        flt = query_pb2.RecordFilter(chain_id=CHAIN, namespace="lic\x00ences")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in query.WatchRecords(
                query_pb2.WatchRecordsRequest(filter=flt, purpose=PURPOSE)
            ):
                pass
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details() == (
            "filter.namespace contains a NUL byte (U+0000), which the hub neither stores nor "
            "looks up; remove it"
        )
        # A key that is not UTF-8 (a lone surrogate, encoded): protobuf refuses to parse it.
        inner = b"\x0a\x09custom-1\x12\x08licences\x1a\x03\xed\xa0\x80"
        raw = b"\x0a" + bytes([len(inner)]) + inner
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await channel.unary_unary("/tonglian.v1.Query/GetRecord")(raw)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.details() == (
            "the request is not a valid tonglian.v1.GetRecordRequest message: Error parsing "
            "message with type 'tonglian.v1.GetRecordRequest' (a string field must be valid "
            "UTF-8, without lone surrogates)"
        )
        # The hub still answers, and the ordinary read works.
        ok = await query.GetRecord(
            query_pb2.GetRecordRequest(
                ref=records_pb2.RecordRef(chain_id=CHAIN, namespace="licences", key="L-1"),
                purpose=PURPOSE,
            )
        )
        assert ok.record.record.ref.key == "L-1"

    events = await _audit(hub, "market-regulator/alice")
    refused = [(a, t, o) for a, t, o, _ in events if o == "error: INVALID_ARGUMENT"]
    assert refused == [
        ("query.get_record", f"{CHAIN}/licences/L\\x00-1", "error: INVALID_ARGUMENT"),
        ("query.get_record", "evm-\\x00/secret/K", "error: INVALID_ARGUMENT"),
        ("query.get_record", f"{CHAIN}/licences/L-1", "error: INVALID_ARGUMENT"),
        ("query.watch_records", f"{CHAIN}/lic\\x00ences/*", "error: INVALID_ARGUMENT"),
        ("query.get_record", "", "error: INVALID_ARGUMENT"),
    ]
    assert events[-1][:3] == ("query.get_record", f"{CHAIN}/licences/L-1", "ok")


async def test_forged_page_tokens_are_invalid_argument(hub: HubProcess) -> None:
    alice = hub.issue("erin", org="market-regulator")
    flt = query_pb2.RecordFilter(chain_id=CHAIN, namespace="licences")
    async with open_channel(hub.address, alice) as channel:
        query = query_pb2_grpc.QueryStub(channel)
        first = await query.ListRecords(
            query_pb2.ListRecordsRequest(filter=flt, page_size=1, purpose=PURPOSE)
        )
        forged = [
            base64.urlsafe_b64encode(b'{"h": Infinity, "s": 0, "f": "x"}').decode(),
            base64.urlsafe_b64encode(b'{"h": 1e400, "s": 0, "f": "x"}').decode(),
            "A" * 40,
        ]
        # The issued token, one character of its position changed.
        token = first.next_page_token
        assert token
        forged.append(token[:5] + ("B" if token[5] != "B" else "C") + token[6:])
        for token in forged:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await query.ListRecords(
                    query_pb2.ListRecordsRequest(filter=flt, page_token=token, purpose=PURPOSE)
                )
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, token
            assert err.value.details() == "page_token is not one this hub issued"


async def test_a_request_above_max_message_bytes_is_refused_and_audited(hub: HubProcess) -> None:
    frank = hub.issue("frank", org="market-regulator")
    ref = records_pb2.RecordRef(chain_id=CHAIN, namespace="licences", key="L-1")
    async with open_channel(hub.address, frank) as channel:
        query = query_pb2_grpc.QueryStub(channel)
        request = query_pb2.GetRecordRequest(ref=ref, purpose="p" * 100_000)
        size = request.ByteSize()
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await query.GetRecord(request)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert err.value.details() == (
            f"the request is {size} bytes, above the limit of 65536 (max_message_bytes); send "
            "less or raise it in the hub's config"
        )
        # Far above it, gRPC's transport refuses before the hub sees a byte.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await query.GetRecord(query_pb2.GetRecordRequest(ref=ref, purpose="p" * 2_000_000))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # At the limit, an ordinary read.
        ok = await query.GetRecord(query_pb2.GetRecordRequest(ref=ref, purpose=PURPOSE))
        assert ok.record.record.ref.key == "L-1"
    events = await _audit(hub, "market-regulator/frank")
    assert events[0] == (
        "query.get_record",
        "",
        "error: RESOURCE_EXHAUSTED",
        f"the request is {size} bytes, above the limit of 65536 (max_message_bytes); send less "
        "or raise it in the hub's config",
    )
    assert [e[:3] for e in events[1:]] == [("query.get_record", f"{CHAIN}/licences/L-1", "ok")]
