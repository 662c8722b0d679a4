"""The schema catalog: shipped schemas, violations named by field, broken schemas refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.catalog.catalog import SchemaCatalog, load_schema, shipped_catalog
from hub.errors import InvalidInput, SchemaViolation
from tonglian.v1 import records_pb2


def record(schema: str, value: object) -> records_pb2.Record:
    return records_pb2.Record(
        ref=records_pb2.RecordRef(chain_id="custom-1", namespace="ns", key="K"),
        schema=schema,
        value=json.dumps(value).encode(),
        version=2,
    )


def test_shipped_schemas() -> None:
    assert {
        "gov.license.business/v1",
        "gov.tax.clearance/v1",
        "gov.residence.certificate/v1",
    } <= set(shipped_catalog().names())


def test_conforming_records_pass_and_unknown_schemas_are_not_checked() -> None:
    cat = shipped_catalog()
    assert cat.check(record("gov.license.business/v1", {"status": "active"}))
    assert cat.check(
        record(
            "gov.residence.certificate/v1",
            {
                "person_id": "P",
                "address": {"city": "Shanghai"},
                "valid_from": "2020-01-01",
                "status": "valid",
            },
        )
    )
    assert cat.check(record("gov.other/v1", {"x": 1})) is False


@pytest.mark.parametrize(
    ("schema", "value", "message"),
    [
        (
            "gov.tax.clearance/v1",
            {"taxpayer_id": "T", "status": "clear"},
            "at $.valid_until: is required (required)",
        ),
        (
            "gov.license.business/v1",
            {"status": "active", "issued_on": "5 Jan"},
            "at $.issued_on: must match the pattern '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' (pattern)",
        ),
        (
            "gov.residence.certificate/v1",
            {"person_id": "P", "address": {}, "valid_from": "2020-01-01", "status": "valid"},
            "at $.address.city: is required (required)",
        ),
    ],
)
def test_violations_name_the_failing_field(schema: str, value: object, message: str) -> None:
    with pytest.raises(SchemaViolation) as err:
        shipped_catalog().check(record(schema, value))
    assert str(err.value) == f"record custom-1/ns/K version 2 violates {schema} {message}"


def test_a_violation_never_quotes_the_value() -> None:
    value = {"taxpayer_id": "T", "status": "arrears", "valid_until": "2027-01-01"}
    with pytest.raises(SchemaViolation) as err:
        shipped_catalog().check(record("gov.tax.clearance/v1", {**value, "amount_due": -98765.43}))
    assert str(err.value) == (
        "record custom-1/ns/K version 2 violates gov.tax.clearance/v1 at $.amount_due: "
        "must be at least 0 (minimum)"
    )
    with pytest.raises(SchemaViolation) as err:
        shipped_catalog().check(record("gov.tax.clearance/v1", {**value, "status": "s3cret"}))
    assert "s3cret" not in str(err.value) and str(err.value).endswith("(enum)")


def test_strict_catalog_refuses_unknown_schemas() -> None:
    with pytest.raises(SchemaViolation, match=r"names schema 'gov.other/v1', which is not in"):
        SchemaCatalog.load(strict=True).check(record("gov.other/v1", {}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"$id": "gov.x/v1", "type": ', "does not parse"),
        ('{"$id": "gov.x/v1", "type": "thing"}', "is not a valid JSON Schema at $['type']"),
        ('{"$id": "x", "type": "object"}', "$id 'x' must name the record type"),
    ],
)
def test_broken_schemas_are_rejected_at_load(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gov.x.v1.json"
    path.write_text(text)
    with pytest.raises(InvalidInput) as err:
        load_schema(path)
    assert f"schema {path}" in str(err.value) and message in str(err.value)
    with pytest.raises(InvalidInput):
        SchemaCatalog.load(tmp_path)


def test_duplicate_schema_ids_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "dup.json").write_text('{"$id": "gov.tax.clearance/v1", "type": "object"}')
    with pytest.raises(InvalidInput, match=r"gov.tax.clearance/v1 is defined twice"):
        SchemaCatalog.load(tmp_path)
