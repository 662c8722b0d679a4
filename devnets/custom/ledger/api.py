"""The HTTP JSON API under /v1; every failure answers {error, detail} with a precise status.

GET  /v1/info                       ledger_id, crypto, validators [{id, algorithm,
                                    public_key hex, user_id (sm2)}], threshold, collections,
                                    limits
GET  /v1/head                       the last block: height, hash, header, signatures, time_ms
GET  /v1/blocks/{height}            one block with its entries, each with its Merkle path
GET  /v1/blocks?from_height=&to_height=&limit=&collection=&wait_ms=
                                    a page of blocks (entries filtered by collection; every
                                    block listed); wait_ms long-polls for from_height
POST /v1/records                    {collection, key, schema, value | deleted: true}
                                    -> 202 {tx_id, status: "pending"}
GET  /v1/records?collection=&key=&at_height=   the latest version (at or below at_height)
GET  /v1/proofs?collection=&key=&at_height=    {record, path, block: {height, hash, header,
                                    signatures}}
GET  /v1/txs/{tx_id}                {tx_id, status: pending|committed, block_height, ...}
POST /v1/inbox                      {delivery_id, collection, key, schema, value, source:
                                    {chain_id, namespace, key, tx_id, version}, proof_digest}
                                    -> 202 new, or 200 {..., duplicate: true} with the first tx,
                                    or 409 {error: "stale_version", held_version} when the
                                    inbox holds a newer version of the key from that source
GET  /v1/inbox/{delivery_id}        {tx_id, status, block_height}
POST /v1/inbox/statuses             {delivery_ids: [...]} (1..MAX_STATUS_IDS) -> {statuses:
                                    [{tx_id, status, block_height} | null]}, in the same
                                    order; null for a delivery the inbox never saw

Hashes, keys and signatures are lowercase hex; `header` is the signed header text
(its UTF-8 bytes are what was signed); `value_canonical` is the stored canonical JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devnets.custom.ledger import inputs as rq
from devnets.custom.ledger.chain import BlockView, Ledger, LedgerError
from devnets.custom.ledger.merkle import PathStep
from devnets.custom.ledger.store import Entry, NewEntry, StoredBlock

log = logging.getLogger("tonglian.custom-ledger")

LEDGER_KEY = web.AppKey("ledger", Ledger)
MAX_PAGE_BLOCKS = 100
# A page stops after the block that crosses this many entries (at least one block).
MAX_PAGE_ENTRIES = 2000
MAX_WAIT_MS = 30_000
# Deliveries asked about in one POST /v1/inbox/statuses.
MAX_STATUS_IDS = 256

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, err: str, detail: str) -> web.Response:
    return web.json_response({"error": err, "detail": detail}, status=status)


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except LedgerError as exc:
        return error(exc.status, exc.error, exc.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        name = exc.reason.lower().replace(" ", "_")
        if isinstance(exc, web.HTTPNotFound):
            detail = f"no such endpoint: {request.path[:200]}"
        elif isinstance(exc, web.HTTPMethodNotAllowed):
            detail = f"{request.method} is not allowed on {request.path[:200]}"
        else:
            detail = exc.text or exc.reason
        return error(exc.status, name, detail)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error(500, "internal", "the ledger failed to answer; see its log")


def entry_json(e: Entry) -> dict[str, Any]:
    n = e.new
    return {
        "tx_id": n.tx_id,
        "collection": n.collection,
        "key": n.key,
        "schema": n.schema,
        "value_canonical": n.value,
        "version": e.version,
        "deleted": n.deleted,
        "block_height": e.block_height,
        "leaf_index": e.leaf_index,
        "time_ms": e.time_ms,
        "source": n.source,
        "proof_digest": n.proof_digest,
        "delivery_id": n.delivery_id,
    }


def path_json(path: list[PathStep]) -> list[dict[str, Any]]:
    return [{"sibling": s.sibling.hex(), "sibling_on_left": s.sibling_on_left} for s in path]


def signed_block_json(b: StoredBlock) -> dict[str, Any]:
    return {
        "height": b.height,
        "hash": b.hash.hex(),
        "header": b.header.decode("utf-8"),
        "signatures": b.signatures,
    }


def block_json(view: BlockView, collection: str | None = None) -> dict[str, Any]:
    out = signed_block_json(view.block)
    out["entries"] = [
        {**entry_json(e), "path": path_json(p)}
        for e, p in zip(view.entries, view.paths, strict=True)
        if collection is None or e.new.collection == collection
    ]
    return out


def _ledger(request: web.Request) -> Ledger:
    return request.app[LEDGER_KEY]


async def _body(request: web.Request) -> dict[str, Any]:
    return rq.parse_object(await request.read())


async def info(request: web.Request) -> web.Response:
    lg = _ledger(request)
    return web.json_response(
        {
            "ledger_id": lg.ledger_id,
            "crypto": lg.validators.crypto,
            "validators": [
                {
                    "id": v.id,
                    "algorithm": v.algorithm,
                    "public_key": v.public_key.hex(),
                    **({"user_id": v.user_id} if v.algorithm == "sm2" else {}),
                }
                for v in lg.validators.keys
            ],
            "threshold": lg.threshold,
            "collections": lg.store.collections(),
            "limits": {
                "max_body_bytes": rq.MAX_BODY_BYTES,
                "max_value_bytes": rq.MAX_VALUE_BYTES,
                "max_key_bytes": rq.MAX_KEY_BYTES,
                "max_page_blocks": MAX_PAGE_BLOCKS,
            },
        }
    )


async def head(request: web.Request) -> web.Response:
    b = _ledger(request).head()
    return web.json_response({**signed_block_json(b), "time_ms": b.time_ms})


async def get_block(request: web.Request) -> web.Response:
    lg = _ledger(request)
    h = rq.height(request.match_info["height"], "height")
    assert h is not None
    view = lg.view(h)
    if view is None:
        raise LedgerError(404, "not_found", f"no block {h}; head is {lg.head().height}")
    return web.json_response(block_json(view))


async def list_blocks(request: web.Request) -> web.Response:
    """A page of blocks from `from_height`; `wait_ms` long-polls for the first one."""
    lg = _ledger(request)
    q = request.query
    start = rq.height(q.get("from_height"), "from_height", default=0)
    end = rq.height(q.get("to_height"), "to_height")
    limit = rq.height(q.get("limit"), "limit", default=20)
    wait_ms = rq.height(q.get("wait_ms"), "wait_ms", default=0)
    assert start is not None and limit is not None and wait_ms is not None
    if not 1 <= limit <= MAX_PAGE_BLOCKS:
        raise rq.bad(f"limit must be 1..{MAX_PAGE_BLOCKS}")
    if wait_ms > MAX_WAIT_MS:
        raise rq.bad(f"wait_ms must be at most {MAX_WAIT_MS}")
    collection = q.get("collection") or None
    if collection is not None and not rq.COLLECTION_RE.match(collection):
        raise rq.bad(f"collection {collection[:80]!r} must match {rq.COLLECTION_RE.pattern}")
    if end is not None and end < start:
        raise rq.bad(f"to_height {end} is below from_height {start}")
    if wait_ms and lg.head().height < start:
        await lg.wait_for_height(start, wait_ms / 1000)
    top = lg.head().height
    last = min(top, start + limit - 1, end if end is not None else top)
    blocks: list[dict[str, Any]] = []
    entries = 0
    for h in range(start, last + 1):
        if entries >= MAX_PAGE_ENTRIES:
            break
        view = lg.view(h)
        assert view is not None
        blocks.append(block_json(view, collection))
        entries += len(view.entries)
    next_height = blocks[-1]["height"] + 1 if blocks else start
    return web.json_response(
        {"blocks": blocks, "head_height": top, "next_from_height": next_height}
    )


def _record_query(request: web.Request) -> tuple[str, str, int | None]:
    q = dict(request.query)
    rq.reject_unknown(q, {"collection", "key", "at_height"}, "query")
    at = rq.height(q.get("at_height"), "at_height")
    return rq.collection(q), rq.key(q), at


def _find(lg: Ledger, collection: str, key: str, at: int | None) -> Entry:
    top = lg.head().height
    if at is not None and at > top:
        raise LedgerError(404, "not_found", f"height {at} is above the head {top}")
    entry = lg.store.find_record(collection, key, at)
    if entry is None:
        where = f" at or below height {at}" if at is not None else ""
        raise LedgerError(404, "not_found", f"no record {collection}/{key}{where}")
    return entry


async def get_record(request: web.Request) -> web.Response:
    lg = _ledger(request)
    return web.json_response(entry_json(_find(lg, *_record_query(request))))


async def get_proof(request: web.Request) -> web.Response:
    lg = _ledger(request)
    entry = _find(lg, *_record_query(request))
    view = lg.view(entry.block_height)
    assert view is not None
    return web.json_response(
        {
            "record": entry_json(entry),
            "path": path_json(view.paths[entry.leaf_index]),
            "block": signed_block_json(view.block),
        }
    )


async def post_record(request: web.Request) -> web.Response:
    lg = _ledger(request)
    doc = await _body(request)
    rq.reject_unknown(doc, {"collection", "key", "schema", "value", "deleted"})
    coll, key = rq.collection(doc), rq.key(doc)
    schema = rq.matching(doc, "schema", rq.SCHEMA_RE)
    value, deleted = rq.value_and_deleted(doc)
    if deleted and not lg.store.key_exists(coll, key):
        raise LedgerError(404, "not_found", f"cannot delete {coll}/{key}: no committed record")
    tx_id = lg.new_tx_id()
    lg.append(NewEntry(tx_id, coll, key, schema, value, deleted))
    return web.json_response({"tx_id": tx_id, "status": "pending"}, status=202)


def _tx_json(lg: Ledger, tx_id: str) -> dict[str, Any]:
    st = lg.store.tx_status(tx_id)
    if st is None:
        raise LedgerError(404, "not_found", f"no transaction {tx_id}")
    return {
        "tx_id": tx_id,
        "status": "pending" if st.block_height is None else "committed",
        "block_height": st.block_height,
        "leaf_index": st.leaf_index,
        "delivery_id": st.delivery_id,
    }


async def get_tx(request: web.Request) -> web.Response:
    tx_id = request.match_info["tx_id"]
    if not rq.TX_ID_RE.match(tx_id):
        raise rq.bad(f"tx id must match {rq.TX_ID_RE.pattern}")
    return web.json_response(_tx_json(_ledger(request), tx_id))


async def post_inbox(request: web.Request) -> web.Response:
    """Accepts a relay delivery once per delivery_id; a repeat answers the original tx."""
    lg = _ledger(request)
    doc = await _body(request)
    rq.reject_unknown(
        doc,
        {
            "delivery_id",
            "collection",
            "key",
            "schema",
            "value",
            "deleted",
            "source",
            "proof_digest",
        },
    )
    delivery_id = rq.matching(doc, "delivery_id", rq.DELIVERY_ID_RE)
    coll, key = rq.collection(doc), rq.key(doc)
    schema = rq.matching(doc, "schema", rq.SCHEMA_RE)
    value, deleted = rq.value_and_deleted(doc)
    src = rq.source(doc)
    digest = rq.matching(doc, "proof_digest", rq.DIGEST_RE)
    known = lg.store.delivery_tx(delivery_id)
    if known is not None:
        return web.json_response({**_tx_json(lg, known), "duplicate": True}, status=200)
    held = lg.store.held_version(coll, key, src["chain_id"], src["namespace"])
    if held > src["version"]:
        # Per-key order: an older version never overwrites a newer one.
        detail = (
            f"the inbox holds version {held} of {coll}/{key} from "
            f"{src['chain_id']}/{src['namespace']}; version {src['version']} is older"
        )
        body = {"error": "stale_version", "detail": detail, "held_version": held}
        return web.json_response(body, status=409)
    tx_id = lg.new_tx_id()
    lg.append(NewEntry(tx_id, coll, key, schema, value, deleted, src, digest, delivery_id))
    return web.json_response({**_tx_json(lg, tx_id), "duplicate": False}, status=202)


async def get_inbox(request: web.Request) -> web.Response:
    lg = _ledger(request)
    delivery_id = request.match_info["delivery_id"]
    if not rq.DELIVERY_ID_RE.match(delivery_id):
        raise rq.bad(f"delivery id must match {rq.DELIVERY_ID_RE.pattern}")
    tx_id = lg.store.delivery_tx(delivery_id)
    if tx_id is None:
        raise LedgerError(404, "not_found", f"no delivery {delivery_id}")
    return web.json_response(_tx_json(lg, tx_id))


async def post_inbox_statuses(request: web.Request) -> web.Response:
    """The inbox's view of many deliveries in one request: a relay asks about all it
    is waiting for at each new block, not one request a delivery."""
    lg = _ledger(request)
    doc = await _body(request)
    rq.reject_unknown(doc, {"delivery_ids"})
    ids = doc.get("delivery_ids")
    if not isinstance(ids, list) or not ids:
        raise rq.bad("delivery_ids must be a non-empty list of delivery ids")
    if len(ids) > MAX_STATUS_IDS:
        raise rq.bad(f"at most {MAX_STATUS_IDS} delivery_ids in one request, got {len(ids)}")
    for n, delivery_id in enumerate(ids):
        if not isinstance(delivery_id, str) or not rq.DELIVERY_ID_RE.match(delivery_id):
            raise rq.bad(f"delivery_ids[{n}] must match {rq.DELIVERY_ID_RE.pattern}")
    statuses = []
    for delivery_id in ids:
        tx_id = lg.store.delivery_tx(delivery_id)
        statuses.append(None if tx_id is None else _tx_json(lg, tx_id))
    return web.json_response({"statuses": statuses})


def make_app(ledger: Ledger) -> web.Application:
    app = web.Application(client_max_size=rq.MAX_BODY_BYTES, middlewares=[errors_as_json])
    app[LEDGER_KEY] = ledger
    app.router.add_get("/v1/info", info)
    app.router.add_get("/v1/head", head)
    app.router.add_get("/v1/blocks", list_blocks)
    app.router.add_get("/v1/blocks/{height}", get_block)
    app.router.add_post("/v1/records", post_record)
    app.router.add_get("/v1/records", get_record)
    app.router.add_get("/v1/proofs", get_proof)
    app.router.add_get("/v1/txs/{tx_id}", get_tx)
    app.router.add_post("/v1/inbox", post_inbox)
    app.router.add_get("/v1/inbox/{delivery_id}", get_inbox)
    app.router.add_post("/v1/inbox/statuses", post_inbox_statuses)
    return app
