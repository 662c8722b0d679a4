"""The HTTP/JSON gateway driven by `curl` alone, against a real hub over mutual TLS
(--http-listen, the example policy plus a write rule) and a real custom ledger: a record
is put, read back, its bundle downloaded and verified offline by `tonglian verify`, a
predicate asked and a watch followed; refusals come as JSON with the gRPC status and the
ErrorInfo reason, and the same record read over gRPC has the same content."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import ParseDict
from openapi_spec_validator import validate

from devnets.base import DevnetInfo
from hub import pki
from hub.services.gateway.app import OPENAPI
from hub.services.gateway.bindings import bindings
from hub.services.gateway.openapi import document as openapi_document
from hub.services.gateway.openapi import served_services
from tests.integration.access.test_agency_access import refused
from tests.integration.gateway.curl import Curl
from tests.integration.observability.scrape import listening_hub
from tonglian.v1 import chains_pb2, records_pb2
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import Credentials
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration

CHAIN = "custom-1"
SCHEMA = "gov.license.business/v1"
PURPOSE = "business-registration"
EXAMPLE_POLICY = Path(__file__).parents[3] / "docs" / "examples" / "policy.yaml"


ELSEWHERE_RULE = f"""\
      - name: regulator-writes-elsewhere
        access: write
        chains: ["custom-9"]
        namespaces: [licences]
        schemas: ["gov.license.*"]
        purposes: [{PURPOSE}]
"""
REGULATOR_RULES = "  market-regulator:\n    rules:\n"


def policy() -> str:
    """docs/examples/policy.yaml, whose market regulator may write its licences, and may
    write to a chain that is not registered (so that the refusal is NOT_FOUND)."""
    text = EXAMPLE_POLICY.read_text()
    assert "- name: regulator-writes-licences" in text and REGULATOR_RULES in text
    return text.replace(REGULATOR_RULES, REGULATOR_RULES + ELSEWHERE_RULE)


class Scene:
    def __init__(self, hub: HubProcess, url: str, anchors: Path) -> None:
        assert hub.credentials is not None
        self.hub = hub
        self.ops = hub.credentials
        self.anchors = anchors
        self.curl = Curl(url, hub.pki_dir / pki.CA_CERT)
        self.regulator = hub.issue("alice", org="market-regulator")
        self.tax = hub.issue("bob", org="tax-bureau")

    def client(self, creds: Credentials) -> AsyncClient:
        return AsyncClient(self.hub.address, creds)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, custom_ledger: DevnetInfo) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("gateway")
    anchors = root / "anchors"
    anchors.mkdir()
    (anchors / f"{CHAIN}.json").write_text(json.dumps(custom_ledger.chain["trustAnchor"]))
    hub, url = listening_hub(root / "hub", policy=policy())
    hub.start()
    try:
        asyncio.run(hub.wait_serving())
        scene = Scene(hub, url, anchors)
        chain = ParseDict(custom_ledger.chain, chains_pb2.Chain())
        chain.chain_id = CHAIN

        async def register() -> None:
            async with scene.client(scene.ops) as ops:
                await ops.register_chain(chain)

        asyncio.run(register())
        yield scene
    finally:
        hub.stop()


def record_path(key: str, suffix: str = "") -> str:
    return f"/v1/chains/{CHAIN}/namespaces/licences/records/{key}{suffix}"


def licence(no: str) -> dict[str, str]:
    return {"licence_no": no, "holder": "通链科技", "status": "active", "issued_on": "2026-01-05"}


def first_event(scene: Scene, path: str, accept: str) -> str:
    """Follows a watch with curl until its first event (an SSE `data:` line or a JSON
    line), then closes it."""
    argv = scene.curl.argv(scene.regulator, path, "-N", "-H", f"Accept: {accept}")
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as curl:
        try:
            assert curl.stdout is not None
            for raw in curl.stdout:
                line = raw.decode().strip()
                if line.startswith("data: "):
                    return line.removeprefix("data: ")
                if line.startswith("{"):
                    return line
            raise AssertionError(f"the watch ended without an event: {curl.stderr}")
        finally:
            curl.terminate()


def verify_offline(bundle: Path, anchors: Path) -> subprocess.CompletedProcess[str]:
    """`tonglian verify BUNDLE` with the chain's anchor in the anchors folder; no hub."""
    return subprocess.run(
        [sys.executable, "-m", "hub.cli.main", "verify", str(bundle), "--json"],
        env={**os.environ, "TONGLIAN_ANCHORS": str(anchors)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def test_curl_puts_reads_downloads_asks_and_watches(scene: Scene, tmp_path: Path) -> None:
    key = f"GW-{uuid.uuid4().hex[:10]}"
    value = licence(key)
    put = scene.curl.json_call(
        scene.regulator,
        "PUT",
        record_path(key),
        {
            "schema": SCHEMA,
            "value_json": json.dumps(value, ensure_ascii=False),
            "purpose": PURPOSE,
            "request_id": f"req-{key}",
            "wait": True,
        },
    )
    assert (put.status, put.content_type) == (200, "application/json; charset=utf-8"), put.body
    receipt = put.json()["receipt"]
    assert receipt["state"] == "WRITE_STATE_FINAL" and receipt["request_id"] == f"req-{key}"
    assert receipt["ref"] == {"chain_id": CHAIN, "namespace": "licences", "key": key}
    height = int(receipt["block_height"])
    assert height > 0 and put.json()["record"]["verification"]["verified"] is True

    # Read back: the record as JSON, verified, with the value written.
    got = scene.curl(scene.regulator, record_path(key, f"?purpose={PURPOSE}"))
    assert got.status == 200, got.body
    record = got.json()["record"]
    assert record["verification"]["verified"] is True
    assert json.loads(base64.b64decode(record["record"]["value"])) == value
    assert record["record"]["tx_id"] == receipt["tx_id"]

    # The same record over gRPC: the same content.
    async with scene.client(scene.regulator) as reg:
        over_grpc = await reg.get_record(f"{CHAIN}/licences/{key}", purpose=PURPOSE)
    assert json.loads(over_grpc.record.value) == value
    assert base64.b64decode(record["record"]["value"]) == over_grpc.record.value
    assert record["record"]["tx_id"] == over_grpc.record.tx_id
    assert int(record["record"]["block_height"]) == over_grpc.record.block_height

    # The proof bundle as the binary file `tonglian verify` takes; it verifies offline.
    bundle = tmp_path / "licence.bundle.pb"
    down = scene.curl(
        scene.regulator, record_path(key, f"/bundle?purpose={PURPOSE}"), "-o", str(bundle)
    )
    assert (down.status, down.content_type) == (200, "application/octet-stream")
    # The same proof as the gRPC read's (each read's bundle is stamped and signed anew).
    downloaded = records_pb2.ProofBundle.FromString(bundle.read_bytes())
    assert downloaded.record == over_grpc.record
    assert downloaded.proof == over_grpc.bundle.proof
    assert downloaded.trust_anchor == over_grpc.bundle.trust_anchor
    checked = verify_offline(bundle, scene.anchors)
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["verified"] is True
    assert report["anchor_file"] == str(scene.anchors / CHAIN)  # the folder's, no flag

    # A predicate: a signed yes.
    asked = scene.curl.json_call(
        scene.regulator,
        "POST",
        record_path(key, "/predicate"),
        {
            "purpose": PURPOSE,
            "predicate": {
                "field": "status",
                "operator": "PREDICATE_OPERATOR_EQUALS",
                "operand_json": '"active"',
            },
        },
    )
    assert asked.status == 200, asked.body
    answer = asked.json()
    assert answer["answer"] is True and answer["signature"] and answer["audit_sequence"]

    # A watch from the write's block: the first event is the record, as SSE and JSON lines.
    watch = (
        f"/v1/chains/{CHAIN}/watch?purpose={PURPOSE}&filter.namespace=licences"
        f"&filter.key_prefix={key}&filter.from_height={height}"
    )
    for accept in ("text/event-stream", "application/x-ndjson"):
        event = json.loads(first_event(scene, watch, accept))
        assert event["record"]["record"]["ref"]["key"] == key, accept
        assert event["record"]["verification"]["verified"] is True

    # Every call is in the audit log under the gRPC action names, as the agency.
    async with scene.client(scene.ops) as ops:
        events = await ops.audit_events(principal="market-regulator/alice")
    mine = [(e.action, e.purpose, e.outcome) for e in events if key in e.target]
    ok = (PURPOSE, "ok")
    assert mine == [
        ("query.put_record", *ok),
        ("query.get_record", *ok),  # curl
        ("query.get_record", *ok),  # gRPC
        ("query.get_record", *ok),  # curl, the bundle
        ("query.evaluate_predicate", *ok),
        ("query.watch_records", PURPOSE, "ok: watch opened"),  # SSE
        ("query.watch_records", PURPOSE, "ok: watch opened"),  # JSON lines
    ]


def error(code: int, status: str, message: str, reason: str, **metadata: str) -> dict[str, Any]:
    """The gateway's JSON error: the gRPC status and its google.rpc.ErrorInfo."""
    info: dict[str, Any] = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "tonglian.v1",
    }
    if metadata:
        info["metadata"] = metadata
    return {"error": {"code": code, "status": status, "message": message, "details": [info]}}


async def test_refusals_are_json_with_the_grpc_status_and_reason(scene: Scene) -> None:
    key = f"GW-{uuid.uuid4().hex[:10]}"
    put_body = {
        "schema": SCHEMA,
        "value_json": json.dumps(licence(key)),
        "purpose": PURPOSE,
        "request_id": f"r-{key}",
    }
    no_cert = scene.curl(None, record_path(key, f"?purpose={PURPOSE}"))
    assert (no_cert.status, no_cert.json()) == (
        401,
        error(16, "UNAUTHENTICATED",
              "no client certificate: this hub requires mutual TLS (give --cert/--key/--ca or "
              "TONGLIAN_CERT/TONGLIAN_KEY/TONGLIAN_CA)", "UNAUTHENTICATED"),
    )  # fmt: skip
    no_rule = scene.curl(scene.tax, record_path(key, "?purpose=tax-assessment"))
    assert (no_rule.status, no_rule.json()) == (
        403,
        error(7, "PERMISSION_DENIED",
              "no rule allows tax-bureau to read custom-1/licences for purpose 'tax-assessment'",
              "POLICY_DENIED"),
    )  # fmt: skip
    no_write = scene.curl.json_call(scene.tax, "PUT", record_path(key), put_body)
    assert (no_write.status, no_write.json()) == (
        403,
        error(7, "PERMISSION_DENIED",
              "no rule allows tax-bureau to write to custom-1/licences (schema "
              "gov.license.business/v1) for purpose 'business-registration'", "POLICY_DENIED"),
    )  # fmt: skip
    unknown = scene.curl.json_call(
        scene.regulator, "PUT", f"/v1/chains/custom-9/namespaces/licences/records/{key}", put_body
    )
    assert (unknown.status, unknown.json()) == (
        404,
        error(5, "NOT_FOUND",
              "no chain 'custom-9' is registered; `tonglian chains list` shows them", "NOT_FOUND"),
    )  # fmt: skip
    malformed = scene.curl.json_call(scene.regulator, "PUT", record_path(key), "{not json")
    assert (malformed.status, malformed.json()) == (
        400,
        error(3, "INVALID_ARGUMENT",
              "the request body is not JSON: Expecting property name enclosed in double quotes: "
              "line 1 column 2 (char 1)", "INVALID_REQUEST",
              message_type="tonglian.v1.PutRecordRequest"),
    )  # fmt: skip
    stray = scene.curl(scene.regulator, record_path(key, f"?purpose={PURPOSE}&colour=red"))
    assert (stray.status, stray.json()) == (
        400,
        error(3, "INVALID_ARGUMENT",
              "unknown query parameter 'colour': tonglian.v1.GetRecordRequest has no such field "
              "(docs/gateway.md lists each route's fields)", "INVALID_REQUEST",
              message_type="tonglian.v1.GetRecordRequest"),
    )  # fmt: skip
    for answer in (no_cert, no_rule, no_write, unknown, malformed, stray):
        assert answer.content_type == "application/json; charset=utf-8"

    # gRPC refuses the same call with the same status, message and reason.
    async with scene.client(scene.tax) as tax:
        err = await refused(tax.get_record(f"{CHAIN}/licences/{key}", purpose="tax-assessment"))
    assert (err.status.name, err.reason) == ("PERMISSION_DENIED", "POLICY_DENIED")
    assert no_rule.json()["error"]["message"] in str(err)

    # Each refusal of a named caller is in the audit log, as for gRPC; none wrote.
    async with scene.client(scene.ops) as ops:
        events = await ops.audit_events(action="query.put_record")
    outcomes = [(e.principal, e.outcome) for e in events if key in e.target]
    assert outcomes == [
        ("tax-bureau/bob", f"denied: {no_write.json()['error']['message']}"),
        ("market-regulator/alice", "error: NOT_FOUND"),  # custom-9
        ("market-regulator/alice", "error: INVALID_ARGUMENT"),  # not JSON
    ]


def test_openapi_document_validates_and_lists_exactly_the_routes(scene: Scene) -> None:
    served = scene.curl(scene.regulator, "/openapi.json")
    assert (served.status, served.content_type) == (200, "application/json")
    document = served.json()
    validate(document)  # OpenAPI 3.1, by openapi-spec-validator
    # What the hub serves is the checked-in file, and that is what the protos generate.
    assert document == json.loads(OPENAPI.read_text())
    declared = bindings(served_services())
    assert document == openapi_document(declared)
    operations = {(path, verb) for path, ops in document["paths"].items() for verb in ops}
    assert operations == {(b.openapi_path, b.verb) for b in declared}
    assert len(operations) == 6

    # Each declared route is served by the gateway (a JSON refusal without a certificate);
    # anything else is not.
    for path, verb in sorted(operations):
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        answer = scene.curl(None, concrete, "-X", verb.upper())
        assert (answer.status, answer.json()["error"]["status"]) == (401, "UNAUTHENTICATED")
    for verb, path in (("DELETE", record_path("x")), ("GET", "/v1/chains/x/anything")):
        answer = scene.curl(scene.regulator, path, "-X", verb)
        assert answer.status in (404, 405) and not answer.content_type.startswith(
            "application/json"
        )


def test_a_revoked_certificate_is_refused_401_with_the_reason(scene: Scene) -> None:
    carol = scene.hub.issue("carol", org="market-regulator")
    key = f"GW-{uuid.uuid4().hex[:10]}"
    read = record_path(key, f"?purpose={PURPOSE}&colour=red")  # refused 400 while valid
    before = scene.curl(carol, read)
    assert (before.status, before.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")
    _revoke(scene, carol)
    after = scene.curl(carol, read)
    error = after.json()["error"]
    assert (after.status, error["code"], error["status"]) == (401, 16, "UNAUTHENTICATED")
    assert error["details"][0]["reason"] == "UNAUTHENTICATED"
    assert error["message"].startswith(
        "client certificate 'CN=carol,OU=agency,O=market-regulator' (serial "
    )
    assert ") was revoked on " in error["message"]


def _revoke(scene: Scene, creds: Credentials) -> None:
    """`tonglian pki revoke CERT --dir PKI`, as an operator runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli.main", "pki", "revoke", str(creds.cert),
         "--dir", str(scene.hub.pki_dir)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
