"""The reference custom ledger as a real process, over HTTP: blocks, proofs, inbox, limits."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from devnets.custom.network import CustomDevnet
from devnets.custom.writer import write_record
from hub.errors import ProofRejected
from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.verify.signed_merkle import validate_trust_anchor, verify_signed_merkle_record

pytestmark = pytest.mark.integration
SCHEMA = "gov.license.business/v1"


async def call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, Any]:
    async with http.request(method, url, **kw) as resp:
        return resp.status, await resp.json()


async def committed(http: aiohttp.ClientSession, url: str, tx_id: str) -> dict[str, Any]:
    for _ in range(200):
        _, tx = await call(http, "GET", f"{url}/v1/txs/{tx_id}")
        if tx["status"] == "committed":
            return tx  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"tx {tx_id} not committed")


def proof_of(answer: dict[str, Any]) -> tuple[records_pb2.Record, records_pb2.SignedMerkleProof]:
    """The ledger's proof answer as tonglian.v1 messages, translated by hand (not the adapter)."""
    r, b = answer["record"], answer["block"]
    record = records_pb2.Record(
        ref=records_pb2.RecordRef(chain_id="custom-1", namespace=r["collection"], key=r["key"]),
        schema=r["schema"],
        value=r["value_canonical"].encode(),
        version=r["version"],
        block_height=r["block_height"],
        tx_id=r["tx_id"],
        commit_time=Timestamp(seconds=r["time_ms"] // 1000, nanos=r["time_ms"] % 1000 * 10**6),
        deleted=r["deleted"],
    )
    proof = records_pb2.SignedMerkleProof(
        header=b["header"].encode(),
        signatures=[
            records_pb2.ValidatorSignature(
                validator_id=s["validator_id"], signature=bytes.fromhex(s["signature"])
            )
            for s in b["signatures"]
        ],
        leaf_index=r["leaf_index"],
        path=[
            records_pb2.MerkleStep(
                sibling=bytes.fromhex(p["sibling"]), sibling_on_left=p["sibling_on_left"]
            )
            for p in answer["path"]
        ],
    )
    return record, proof


async def test_info_matches_the_registered_anchor(
    http: aiohttp.ClientSession, url: str, chain: chains_pb2.Chain
) -> None:
    anchor = chain.trust_anchor.signed_merkle
    validate_trust_anchor(anchor)
    assert chain.kind == chains_pb2.CHAIN_KIND_SIGNED_MERKLE
    assert chain.adapter.adapter == "custom"
    status, info = await call(http, "GET", f"{url}/v1/info")
    assert status == 200
    assert info["ledger_id"] == anchor.ledger_id
    assert info["threshold"] == anchor.threshold == 3
    assert [(v["id"], bytes.fromhex(v["public_key"])) for v in info["validators"]] == [
        (v.id, v.ed25519_public_key) for v in anchor.validators
    ]


async def test_appended_records_are_cut_into_a_block_and_prove(
    http: aiohttp.ClientSession, url: str, chain: chains_pb2.Chain
) -> None:
    # Several writes land in one block (one interval), so paths have several levels.
    txs = []
    for i in range(6):
        value = {"holder": "上海某公司", "seq": i, "a": [1, 2]}
        status, body = await call(
            http,
            "POST",
            f"{url}/v1/records",
            json={"collection": "proofs", "key": f"k{i % 4}", "schema": SCHEMA, "value": value},
        )
        assert status == 202 and body["status"] == "pending"
        txs.append(body["tx_id"])
    heights = {(await committed(http, url, tx))["block_height"] for tx in txs}
    anchor = chain.trust_anchor.signed_merkle
    for i in range(4):
        status, answer = await call(
            http, "GET", f"{url}/v1/proofs", params={"collection": "proofs", "key": f"k{i}"}
        )
        assert status == 200
        assert answer["record"]["block_height"] in heights
        record, proof = proof_of(answer)
        checks = verify_signed_merkle_record(record, proof, anchor)
        assert any("3 of 4 validators signed" in c for c in checks)
        assert json.loads(record.value)["holder"] == "上海某公司"
        record.schema = "gov.other/v1"
        with pytest.raises(ProofRejected, match="merkle_root"):
            verify_signed_merkle_record(record, proof, anchor)


async def test_versions_count_per_key_and_at_height_reads_the_past(
    http: aiohttp.ClientSession, url: str, chain: chains_pb2.Chain
) -> None:
    first = await write_record(url, "versions", "v", SCHEMA, {"n": 1}, session=http)
    second = await write_record(url, "versions", "v", SCHEMA, {"n": 2}, session=http)
    _, latest = await call(
        http, "GET", f"{url}/v1/records", params={"collection": "versions", "key": "v"}
    )
    assert (latest["version"], latest["value_canonical"]) == (2, '{"n":2}')
    _, old = await call(
        http,
        "GET",
        f"{url}/v1/proofs",
        params={"collection": "versions", "key": "v", "at_height": str(second.block_height - 1)},
    )
    assert (old["record"]["version"], old["record"]["tx_id"]) == (1, first.tx_id)
    verify_signed_merkle_record(*proof_of(old), chain.trust_anchor.signed_merkle)


async def test_blocks_chain_by_hash(http: aiohttp.ClientSession, url: str) -> None:
    await write_record(url, "chain", "c", SCHEMA, {}, session=http)
    status, page = await call(
        http, "GET", f"{url}/v1/blocks", params={"from_height": "0", "limit": "100"}
    )
    assert status == 200 and page["blocks"][0]["height"] == 0
    prev = "00" * 32
    for b in page["blocks"]:
        header = json.loads(b["header"])
        assert header["previous_hash"] == prev
        assert header["record_count"] == len(b["entries"])
        prev = b["hash"]
    _, one = await call(http, "GET", f"{url}/v1/blocks/{page['blocks'][-1]['height']}")
    assert one == page["blocks"][-1]


async def test_a_deletion_is_a_new_version(
    http: aiohttp.ClientSession, url: str, chain: chains_pb2.Chain
) -> None:
    await write_record(url, "deletions", "d", SCHEMA, {"x": 1}, session=http)
    status, body = await call(
        http,
        "POST",
        f"{url}/v1/records",
        json={"collection": "deletions", "key": "d", "schema": SCHEMA, "deleted": True},
    )
    assert status == 202
    await committed(http, url, body["tx_id"])
    _, answer = await call(
        http, "GET", f"{url}/v1/proofs", params={"collection": "deletions", "key": "d"}
    )
    record, proof = proof_of(answer)
    assert record.deleted and record.value == b"" and record.version == 2
    verify_signed_merkle_record(record, proof, chain.trust_anchor.signed_merkle)


def delivery(delivery_id: str, value: Any) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "collection": "inbox",
        "key": "from-evm",
        "schema": SCHEMA,
        "value": value,
        "source": {
            "chain_id": "evm-1",
            "namespace": "0xabc",
            "key": "from-evm",
            "tx_id": "0x01",
            "version": 1,
        },
        "proof_digest": "ab" * 32,
    }


async def test_inbox_accepts_a_delivery_once(
    http: aiohttp.ClientSession, url: str, chain: chains_pb2.Chain
) -> None:
    s1, first = await call(http, "POST", f"{url}/v1/inbox", json=delivery("dlv-once", {"v": 1}))
    s2, again = await call(http, "POST", f"{url}/v1/inbox", json=delivery("dlv-once", {"v": 2}))
    assert (s1, first["duplicate"], s2, again["duplicate"]) == (202, False, 200, True)
    assert again["tx_id"] == first["tx_id"]
    tx = await committed(http, url, first["tx_id"])
    s3, third = await call(http, "POST", f"{url}/v1/inbox", json=delivery("dlv-once", {"v": 3}))
    assert (s3, third["status"], third["duplicate"], third["block_height"]) == (
        200,
        "committed",
        True,
        tx["block_height"],
    )
    _, status = await call(http, "GET", f"{url}/v1/inbox/dlv-once")
    assert (status["status"], status["tx_id"]) == ("committed", first["tx_id"])
    # Exactly one entry: version 1, the first payload, carrying its source reference.
    _, page = await call(
        http,
        "GET",
        f"{url}/v1/blocks",
        params={"from_height": "0", "limit": "100", "collection": "inbox"},
    )
    entries = [e for b in page["blocks"] for e in b["entries"] if e["delivery_id"] == "dlv-once"]
    assert len(entries) == 1
    e = entries[0]
    assert (e["version"], e["value_canonical"], e["proof_digest"]) == (1, '{"v":1}', "ab" * 32)
    assert e["source"]["chain_id"] == "evm-1"
    _, answer = await call(
        http, "GET", f"{url}/v1/proofs", params={"collection": "inbox", "key": "from-evm"}
    )
    verify_signed_merkle_record(*proof_of(answer), chain.trust_anchor.signed_merkle)
    s4, unknown = await call(http, "GET", f"{url}/v1/inbox/never-sent")
    assert (s4, unknown["error"]) == (404, "not_found")
    # Many at once, in the order asked; null for one the inbox never saw.
    s5, many = await call(
        http,
        "POST",
        f"{url}/v1/inbox/statuses",
        json={"delivery_ids": ["never-sent", "dlv-once", "never-sent"]},
    )
    assert s5 == 200
    assert many["statuses"][0] is None and many["statuses"][2] is None
    assert many["statuses"][1] == status


BAD_INPUTS: list[tuple[str, str, dict[str, Any], int, str, str]] = [
    # (method, path, request kwargs, status, error, fragment of detail)
    ("POST", "/v1/records", {"data": b"{not json"}, 400, "malformed_json", "not JSON"),
    ("POST", "/v1/records", {"data": b"\xff\xfe"}, 400, "malformed_json", "not JSON"),
    ("POST", "/v1/records", {"json": [1, 2]}, 400, "bad_request", "JSON object"),
    (
        "POST",
        "/v1/records",
        {"json": {"collection": "c", "key": "k", "schema": SCHEMA, "value": 1, "extra": 1}},
        400,
        "bad_request",
        "unknown fields: extra",
    ),
    (
        "POST",
        "/v1/records",
        {"json": {"collection": "bad coll", "key": "k", "schema": SCHEMA, "value": 1}},
        400,
        "bad_request",
        "collection",
    ),
    (
        "POST",
        "/v1/records",
        {"json": {"collection": "c", "key": "", "schema": SCHEMA, "value": 1}},
        400,
        "bad_request",
        "key must be a non-empty string",
    ),
    (
        "POST",
        "/v1/records",
        {"json": {"collection": "c", "key": "k\n", "schema": SCHEMA, "value": 1}},
        400,
        "bad_request",
        "control characters",
    ),
    (
        "POST",
        "/v1/records",
        {"json": {"collection": "c", "key": "k" * 257, "schema": SCHEMA, "value": 1}},
        413,
        "too_large",
        "key is longer than 256 bytes",
    ),
    (
        "POST",
        "/v1/records",
        {"json": {"collection": "c", "key": "k", "schema": SCHEMA}},
        400,
        "bad_request",
        "value is required",
    ),
    (
        "POST",
        "/v1/records",
        {"data": b'{"collection":"c","key":"k","schema":"s/v1","value":NaN}'},
        400,
        "bad_request",
        "canonical JSON",
    ),
    (
        "POST",
        "/v1/records",
        {"json": {"collection": "c", "key": "k", "schema": SCHEMA, "value": "x" * 300_000}},
        413,
        "too_large",
        "value is larger than",
    ),
    (
        "POST",
        "/v1/records",
        {"data": b"x" * (1024 * 1024 + 1)},
        413,
        "request_entity_too_large",
        "Maximum request body size",
    ),
    (
        "POST",
        "/v1/records",
        {"json": {"collection": "c", "key": "nope", "schema": SCHEMA, "deleted": True}},
        404,
        "not_found",
        "cannot delete",
    ),
    ("GET", "/v1/records?collection=c&key=missing", {}, 404, "not_found", "no record c/missing"),
    ("GET", "/v1/records?collection=c", {}, 400, "bad_request", "key must be"),
    (
        "GET",
        "/v1/records?collection=c&key=k&at_height=-1",
        {},
        400,
        "bad_request",
        "at_height must be",
    ),
    (
        "GET",
        "/v1/proofs?collection=c&key=k&at_height=99999999",
        {},
        404,
        "not_found",
        "above the head",
    ),
    ("GET", "/v1/blocks/99999999", {}, 404, "not_found", "no block 99999999"),
    ("GET", "/v1/blocks/abc", {}, 400, "bad_request", "height must be"),
    ("GET", "/v1/blocks?limit=0", {}, 400, "bad_request", "limit must be 1..100"),
    ("GET", "/v1/blocks?from_height=5&to_height=4", {}, 400, "bad_request", "below from_height"),
    ("GET", "/v1/blocks?wait_ms=60000", {}, 400, "bad_request", "wait_ms"),
    ("GET", "/v1/txs/zz", {}, 400, "bad_request", "tx id"),
    ("GET", "/v1/txs/" + "0" * 32, {}, 404, "not_found", "no transaction"),
    (
        "POST",
        "/v1/inbox",
        {"json": {**delivery("d-bad", 1), "proof_digest": "xy"}},
        400,
        "bad_request",
        "proof_digest",
    ),
    (
        "POST",
        "/v1/inbox",
        {"json": {**delivery("d-bad", 1), "source": {"chain_id": "e"}}},
        400,
        "bad_request",
        "source.version",
    ),
    ("POST", "/v1/inbox", {"json": {**delivery("bad id!", 1)}}, 400, "bad_request", "delivery_id"),
    ("GET", "/v1/inbox/bad%20id", {}, 400, "bad_request", "delivery id"),
    (
        "POST",
        "/v1/inbox/statuses",
        {"json": {"delivery_ids": []}},
        400,
        "bad_request",
        "delivery_ids must be a non-empty list of delivery ids",
    ),
    (
        "POST",
        "/v1/inbox/statuses",
        {"json": {"delivery_ids": "d-1"}},
        400,
        "bad_request",
        "delivery_ids must be a non-empty list of delivery ids",
    ),
    (
        "POST",
        "/v1/inbox/statuses",
        {"json": {"delivery_ids": [f"d-{i}" for i in range(257)]}},
        400,
        "bad_request",
        "at most 256 delivery_ids in one request, got 257",
    ),
    (
        "POST",
        "/v1/inbox/statuses",
        {"json": {"delivery_ids": ["d-1", "bad id!"]}},
        400,
        "bad_request",
        "delivery_ids[1] must match",
    ),
    (
        "POST",
        "/v1/inbox/statuses",
        {"json": {"delivery_ids": ["d-1"], "more": 1}},
        400,
        "bad_request",
        "unknown fields: more",
    ),
    ("GET", "/v1/nowhere", {}, 404, "not_found", "no such endpoint"),
    ("DELETE", "/v1/head", {}, 405, "method_not_allowed", "DELETE is not allowed"),
]


@pytest.mark.parametrize(("method", "path", "kw", "status", "error", "detail"), BAD_INPUTS)
async def test_bad_input_gets_a_precise_error(
    http: aiohttp.ClientSession,
    url: str,
    method: str,
    path: str,
    kw: dict[str, Any],
    status: int,
    error: str,
    detail: str,
) -> None:
    got_status, body = await call(http, method, url + path, **kw)
    assert (got_status, body["error"]) == (status, error), body
    assert detail in body["detail"]
    head_status, _ = await call(http, "GET", f"{url}/v1/head")
    assert head_status == 200


async def test_restart_keeps_the_chain_and_pending_entries(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    devnet = CustomDevnet(tmp_path / "restart", block_interval_ms=100)
    info = await devnet.up(lambda _: None)
    url = info.endpoints["http"]
    try:
        tx = await write_record(url, "kept", "k", SCHEMA, {"n": 1}, session=http)
        _, before = await call(http, "GET", f"{url}/v1/blocks/{tx.block_height}")
        await devnet.down()
        # A slow block interval keeps the next write pending across the restart.
        slow = CustomDevnet(tmp_path / "restart", block_interval_ms=60_000)
        info = await slow.up(lambda _: None)
        assert info.endpoints["http"] == url
        _, pending = await call(
            http,
            "POST",
            f"{url}/v1/records",
            json={"collection": "kept", "key": "k", "schema": SCHEMA, "value": {"n": 2}},
        )
        await slow.down()
        info = await devnet.up(lambda _: None)
        _, after = await call(http, "GET", f"{url}/v1/blocks/{tx.block_height}")
        assert after == before
        done = await committed(http, url, pending["tx_id"])
        assert done["block_height"] == tx.block_height + 1
        _, rec = await call(
            http, "GET", f"{url}/v1/records", params={"collection": "kept", "key": "k"}
        )
        assert (rec["version"], rec["value_canonical"]) == (2, '{"n":2}')
        status = await devnet.status()
        assert status.running and status.heights["ledger"] == tx.block_height + 1
        again = await devnet.up(lambda _: None)
        assert again.processes[0].pid == info.processes[0].pid
    finally:
        await devnet.down()
    assert not (await devnet.status()).running


async def test_inbox_refuses_an_older_version_of_a_key(
    http: aiohttp.ClientSession, url: str
) -> None:
    def versioned(delivery_id: str, version: int) -> dict[str, Any]:
        body = delivery(delivery_id, {"v": version})
        body["key"] = body["source"]["key"] = "ordered"
        body["source"]["version"] = version
        return body

    s1, _ = await call(http, "POST", f"{url}/v1/inbox", json=versioned("ord-3", 3))
    s2, stale = await call(http, "POST", f"{url}/v1/inbox", json=versioned("ord-2", 2))
    assert (s1, s2) == (202, 409)
    assert stale == {
        "error": "stale_version",
        "detail": "the inbox holds version 3 of inbox/ordered from evm-1/0xabc; version 2 is older",
        "held_version": 3,
    }
    s3, _ = await call(http, "GET", f"{url}/v1/inbox/ord-2")
    assert s3 == 404
    s4, newer = await call(http, "POST", f"{url}/v1/inbox", json=versioned("ord-4", 4))
    assert (s4, newer["duplicate"]) == (202, False)
