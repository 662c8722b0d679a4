"""A write through the hub, translated for Fabric: the chaincode's `deliver` arguments
(adapters/fabric/adapter.py `deliver_args`) run against the records chaincode itself,
on an in-memory ledger: the record lands at its key, once per write id."""

from __future__ import annotations

import json

from adapters.fabric.adapter import deliver_args
from devnets.fabric.chaincode import records
from hub.usecases.write_request import WRITE_SOURCE, check_write
from tests.unit.adapters.test_fabric_chaincode import MemoryLedger
from tonglian.v1 import query_pb2, records_pb2

VALUE = {"status": "active", "holder": "通链科技"}


def write(value: dict[str, object], request_id: str = "req-1") -> query_pb2.PutRecordRequest:
    return query_pb2.PutRecordRequest(
        ref=records_pb2.RecordRef(chain_id="fabric-1", namespace="mychannel:records", key="F-1"),
        schema="gov.license.business/v1",
        value_json=json.dumps(value),
        purpose="business-registration",
        request_id=request_id,
    )


async def test_a_write_becomes_the_record_at_its_key_once() -> None:
    delivery = check_write(write(VALUE)).delivery("market-regulator")
    args = deliver_args(delivery)
    assert args[:4] == [
        delivery.delivery_id,
        "F-1",
        "gov.license.business/v1",
        '{"holder":"通链科技","status":"active"}',
    ]
    source = json.loads(args[4])
    assert (source["chain_id"], source["namespace"], source["tx_id"]) == (
        WRITE_SOURCE,
        "market-regulator",
        "req-1",
    )
    assert args[5] == delivery.proof_digest.hex() and len(delivery.proof_digest) == 32

    ledger = MemoryLedger("tx-a")
    first = await records.invoke(ledger, "deliver", args)
    assert json.loads(first.payload)["duplicate"] is False
    assert json.loads(ledger.state["F-1"]) == {**VALUE, "schema": "gov.license.business/v1"}
    # The same request again (a retry, hence a later version): applied once, first tx.
    ledger.tx_id = "tx-b"
    again = await records.invoke(
        ledger, "deliver", deliver_args(check_write(write(VALUE)).delivery("market-regulator"))
    )
    assert json.loads(again.payload) == {
        "delivery_id": delivery.delivery_id,
        "duplicate": True,
        "tx_id": "tx-a",
    }
    assert ledger.writes.count("F-1") == 1


async def test_each_agency_and_request_id_is_its_own_write() -> None:
    one = check_write(write(VALUE)).delivery("market-regulator").delivery_id
    other_agency = check_write(write(VALUE)).delivery("tax-bureau").delivery_id
    other_request = check_write(write(VALUE, "req-2")).delivery("market-regulator").delivery_id
    # The content does not name the write: a retry with other content is found, not applied.
    other_content = check_write(write({"status": "revoked"})).delivery("market-regulator")
    assert len({one, other_agency, other_request}) == 3
    assert other_content.delivery_id == one
