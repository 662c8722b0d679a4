"""The checks of a write request, and how the hub recognises the value a chain holds."""

from __future__ import annotations

import json

import pytest

from hub.errors import InvalidInput
from hub.usecases.write import _same_value
from hub.usecases.write_request import check_write
from tonglian.v1 import query_pb2, records_pb2

REF = records_pb2.RecordRef(chain_id="c-1", namespace="licences", key="K")


def request(**fields: object) -> query_pb2.PutRecordRequest:
    base: dict[str, object] = {
        "ref": REF,
        "schema": "gov.x/v1",
        "value_json": '{"b": 1, "a": "中"}',
        "purpose": "p",
        "request_id": "r-1",
    }
    return query_pb2.PutRecordRequest(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"request_id": ""}, "request_id is required: choose one per record you write"),
        ({"request_id": "a/b"}, "request_id 'a/b' is malformed: use 1 to 128 characters"),
        ({"schema": ""}, "schema is required: name the catalog schema of the value"),
        ({"value_json": "{"}, "value_json is not JSON: "),
        ({"value_json": "NaN"}, "value_json is not JSON: "),
        ({"ref": records_pb2.RecordRef(chain_id="c-1", key="K")}, "ref.namespace is required"),
    ],
)
def test_bad_requests_name_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_write(request(**fields))
    assert str(err.value).startswith(message)


def test_the_value_is_written_as_canonical_json() -> None:
    write = check_write(request())
    assert write.canonical == '{"a":"中","b":1}'.encode()
    delivery = write.delivery("agency-a")
    assert delivery.record.value == write.canonical
    assert (delivery.destination_chain_id, delivery.destination_namespace) == ("c-1", "licences")
    assert delivery.record.tx_id == "r-1" and len(delivery.delivery_id) == 64


def test_the_held_value_is_recognised_with_a_schema_member_only_when_it_names_the_schema() -> None:
    write = check_write(request())
    assert _same_value(b'{"a":"\xe4\xb8\xad","b":1}', write)
    assert _same_value(json.dumps({"b": 1, "a": "中", "schema": "gov.x/v1"}).encode(), write)
    assert not _same_value(json.dumps({"b": 1, "a": "中", "schema": "gov.y/v1"}).encode(), write)
    assert not _same_value(b'{"a":"x","b":1}', write)
    assert not _same_value(b"not json", write)
