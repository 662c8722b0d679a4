"""The records chaincode's contract logic and the guards around fabric-chaincode-python."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from devnets.fabric.chaincode import records


class MemoryLedger:
    def __init__(self, tx_id: str = "tx1") -> None:
        self.tx_id = tx_id
        self.state: dict[str, bytes] = {}
        self.writes: list[str] = []

    async def get(self, key: str) -> bytes | None:
        return self.state.get(key)

    async def put(self, key: str, value: bytes) -> None:
        self.state[key] = value
        self.writes.append(key)

    async def history(self, key: str) -> list[records.KeyModification]:
        return [records.KeyModification("tx1", 5, 6, False)] if key in self.state else []


async def test_put_stores_canonical_json_with_schema_member() -> None:
    ledger = MemoryLedger()
    out = await records.invoke(ledger, "put", ["k", "gov.x/v1", '{ "b": 1, "a": "中" }'])
    assert ledger.state["k"] == '{"a":"中","b":1,"schema":"gov.x/v1"}'.encode()
    assert out.event is not None and out.event.name == records.PUT_EVENT
    assert json.loads(out.payload) == {"key": "k", "tx_id": "tx1"}


@pytest.mark.parametrize(
    "args",
    [
        ["k", "s", "not json"],
        ["k", "s", "[1]"],
        ["k", "", "{}"],
        ["", "s", "{}"],
        ["\x00internal", "s", "{}"],
        ["k", "s", '{"schema":"other"}'],
        ["k", "s", "[" * 100_000 + "]" * 100_000],
    ],
)
async def test_put_rejects_bad_input(args: list[str]) -> None:
    with pytest.raises(records.ContractError):
        await records.invoke(MemoryLedger(), "put", args)


async def test_unknown_function_and_arity() -> None:
    with pytest.raises(records.ContractError, match="unknown function"):
        await records.invoke(MemoryLedger(), "nope", [])
    with pytest.raises(records.ContractError, match="takes 1 arguments"):
        await records.invoke(MemoryLedger(), "get", [])


SOURCE = {"chain_id": "c", "key": "k", "namespace": "n", "version": 2}


def deliver_args(delivery_id: str, version: int, value: str = '{"v":1}') -> list[str]:
    return [delivery_id, "k", "s", value, json.dumps({**SOURCE, "version": version}), "ab"]


async def test_deliver_applies_once() -> None:
    ledger = MemoryLedger("tx-a")
    args = deliver_args("d1", 2)
    first = await records.invoke(ledger, "deliver", args)
    assert json.loads(first.payload) == {"delivery_id": "d1", "duplicate": False, "tx_id": "tx-a"}
    held = records.version_key(SOURCE)
    assert ledger.writes == [held, "k", records.inbox_key("d1")]
    ledger.tx_id = "tx-b"
    again = await records.invoke(ledger, "deliver", args)
    assert json.loads(again.payload) == {"delivery_id": "d1", "duplicate": True, "tx_id": "tx-a"}
    assert again.event is None and ledger.writes == [held, "k", records.inbox_key("d1")]
    entry = json.loads((await records.invoke(ledger, "delivery", ["d1"])).payload)
    assert entry["source"] == SOURCE and entry["proof_digest"] == "ab"
    assert (await records.invoke(ledger, "delivery", ["d2"])).payload == b""


async def test_deliver_refuses_an_older_version_as_a_stale_outcome() -> None:
    ledger = MemoryLedger("tx-a")
    await records.invoke(ledger, "deliver", deliver_args("d3", 3, '{"status":"suspended"}'))
    stale = await records.invoke(ledger, "deliver", deliver_args("d2", 2, '{"status":"active"}'))
    assert json.loads(stale.payload) == {"delivery_id": "d2", "held_version": 3, "stale": True}
    assert stale.event is None
    assert json.loads(ledger.state["k"])["status"] == "suspended"
    assert records.inbox_key("d2") not in ledger.state
    # The same version again (another delivery id of it) and a newer one are applied.
    newer = await records.invoke(ledger, "deliver", deliver_args("d4", 4, '{"status":"revoked"}'))
    assert json.loads(newer.payload)["duplicate"] is False
    assert ledger.state[records.version_key(SOURCE)] == b"4"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{"chain_id":"c","namespace":"n","key":"k"}', "version must be a non-negative integer"),
        ('{"chain_id":"c","namespace":"n","key":"k","version":-1}', "non-negative integer"),
        ('{"chain_id":"c","key":"k","version":1}', "source_json.namespace must be a string"),
    ],
)
async def test_deliver_needs_a_versioned_source(source: str, message: str) -> None:
    with pytest.raises(records.ContractError, match=message):
        await records.invoke(MemoryLedger(), "deliver", ["d", "k", "s", "{}", source, "ab"])


def test_nesting_depth_ignores_brackets_in_strings() -> None:
    assert records.nesting_depth('{"a":[{"b":"[[[{{{\\"]]"}]}') == 3


async def test_history_lists_modifications() -> None:
    ledger = MemoryLedger()
    await records.invoke(ledger, "put", ["k", "s", "{}"])
    out = json.loads((await records.invoke(ledger, "history", ["k"])).payload)
    assert out == [{"is_delete": False, "nanos": 6, "seconds": 5, "tx_id": "tx1"}]


# --- guards (need the `chaincode` extra) -----------------------------------------------------

shim = pytest.importorskip("devnets.fabric.chaincode.shim")


class FakeHandler:
    def __init__(self, reply: object) -> None:
        self.reply = reply

    async def ask(self, msg: object, action: str) -> object:
        return self.reply


def _msg(msg_type: int, payload: bytes = b"") -> object:
    return shim.CCMsg(type=msg_type, payload=payload, txid="t", channel_id="c")


async def test_peer_error_is_raised_not_returned_as_a_value() -> None:
    """Defect 5: an ERROR answer to GetState/PutState must not pass as data."""
    ledger = shim.PeerLedger(FakeHandler(_msg(shim.CCMsg.ERROR, b"no such tx")), "c", "t")
    with pytest.raises(shim.PeerError, match="no such tx"):
        await ledger.get("k")
    with pytest.raises(shim.PeerError):
        await ledger.put("k", b"v")
    ok = shim.PeerLedger(FakeHandler(_msg(shim.CCMsg.RESPONSE, b"")), "c", "t")
    assert await ok.get("k") is None


async def test_stream_writes_are_serialised() -> None:
    """Defect 1: never two writes in flight on the peer stream."""
    in_flight = 0
    peak = 0

    class Context:
        async def write(self, message: object) -> None:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.001)
            in_flight -= 1

    stream = shim.SerialisedStream(Context())
    await asyncio.gather(*(stream.write(i) for i in range(20)))
    assert peak == 1


async def test_exceptions_become_error_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 4: an exception in a transaction still produces an answer."""
    handler = shim.GuardedHandler("cc", None)

    def explode(schema: str, value: str) -> bytes:
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    monkeypatch.setattr(records, "record_bytes", explode)
    bad = shim.chaincode_pb2.ChaincodeInput(args=[b"put", b"k", b"s", b'{"a":1}'])
    response, event = await handler._run(_msg(shim.CCMsg.TRANSACTION, bad.SerializeToString()))
    assert response.status == 500 and "UnicodeEncodeError" in response.message and event is None
    caller = shim.chaincode_pb2.ChaincodeInput(args=[b"nope"])
    response, _ = await handler._run(_msg(shim.CCMsg.TRANSACTION, caller.SerializeToString()))
    assert response.status == 400


def test_library_logging_is_quiet() -> None:
    """Defect 6: root logger not left at DEBUG, `Look out!` warnings dropped."""
    assert logging.getLogger().level > logging.DEBUG
    shim_logger = logging.getLogger("asyncio")
    assert shim_logger.level >= logging.WARNING
    record = shim_logger.makeRecord("asyncio", logging.WARNING, "f", 1, "-->> Look out!", (), None)
    assert not shim_logger.filter(record)


def test_keepalive_options_accept_peer_pings() -> None:
    """Defect 3: the server accepts pings without data every 10 s (peer sends every 60 s)."""
    options = dict(shim.KEEPALIVE_OPTIONS)
    assert options["grpc.http2.min_ping_interval_without_data_ms"] <= 60_000
    assert options["grpc.keepalive_permit_without_calls"] == 1


async def test_value_without_canonical_form_is_a_caller_error() -> None:
    """A lone surrogate parses as JSON but has no RFC 8785 form: the caller is told, 400."""
    handler = shim.GuardedHandler("cc", None)
    bad = shim.chaincode_pb2.ChaincodeInput(args=[b"put", b"k", b"s", b'{"a":"\\ud800"}'])
    response, event = await handler._run(_msg(shim.CCMsg.TRANSACTION, bad.SerializeToString()))
    assert response.status == 400 and event is None
    assert "value has no canonical JSON form" in response.message
