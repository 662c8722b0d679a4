"""The Annals REST API under /api/v2: cursor-paged lists, base64 binaries, {error: {code, message}}.

GET  /api/v2/ledger                               network, signers [{name, key b64}], quorum, spaces
GET  /api/v2/blocks/latest                        the newest sealed block (summary)
GET  /api/v2/blocks/{number}                      one block with its full transactions
GET  /api/v2/blocks?from=&to=&limit=&view=full|summary&cursor=
                                                  {items, next_cursor}; next_cursor is null at
                                                  the end (or at the newest block)
GET  /api/v2/spaces/{space}/keys/{key}/revisions?limit=&cursor=
                                                  {items: [{rev, block, position, txid}] newest
                                                  first, next_cursor}
POST /api/v2/transactions                         {space, key, kind, doc | tombstone, client_ref?}
                                                  -> 201 {txid, state: "queued"}; a used
                                                  client_ref -> 409 DUPLICATE_CLIENT_REF + txid
GET  /api/v2/transactions/{txid}                  {txid, state: queued|sealed, block, position}
GET  /api/v2/transactions?client_ref=             the same, looked up by client_ref

A block summary: {number, sealed_header (b64), seals [{signer, sig b64}], meta {producer,
sealed_at ISO-8601, parent hex}, tx_count, tx_hashes [b64]}; full blocks add txs [{txid,
space, key, kind, doc (b64 of the canonical JSON text), rev, tombstone, client_ref}].
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from devnets.annals.node.book import Block, Book, BookError
from tonglian_proof.canonical import canonical_text
from tonglian_proof.errors import MalformedInput

BOOK = web.AppKey("book", Book)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
REF_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_LIMIT = 100
MAX_BODY = 1 << 20
MAX_DOC = 256 << 10


def bad(message: str) -> BookError:
    return BookError(400, "BAD_REQUEST", message)


@web.middleware
async def errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except BookError as exc:
        body = {"error": {"code": exc.code, "message": exc.message, **exc.extra}}
        return web.json_response(body, status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        body = {"error": {"code": exc.reason.upper().replace(" ", "_"), "message": exc.reason}}
        return web.json_response(body, status=exc.status)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _cursor(doc: dict[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def _uncursor(raw: str) -> dict[str, int]:
    try:
        doc = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(doc, dict) or not all(isinstance(v, int) for v in doc.values()):
            raise ValueError
        return doc
    except (ValueError, binascii.Error):
        raise bad("cursor is not one this ledger issued") from None


def _int(q: Any, name: str, default: int | None = None) -> int | None:
    raw = q.get(name)
    if raw in (None, ""):
        return default
    if not re.fullmatch(r"[0-9]{1,15}", raw):
        raise bad(f"{name} must be a non-negative integer")
    return int(raw)


def summary(b: Block) -> dict[str, Any]:
    sealed_at = datetime.fromtimestamp(b.meta["time_ms"] / 1000, UTC).isoformat(
        timespec="milliseconds"
    )
    return {
        "number": b.number,
        "sealed_header": _b64(b.header),
        "seals": b.seals,
        "meta": {
            "producer": b.meta["producer"],
            "sealed_at": sealed_at,
            "parent": b.meta["parent"],
        },
        "tx_count": len(b.txs),
        "tx_hashes": [_b64(h) for h in b.hashes],
    }


def full(b: Block) -> dict[str, Any]:
    txs = [
        {**{k: v for k, v in t.items() if k != "doc"}, "doc": _b64(t["doc"].encode())}
        for t in b.txs
    ]
    return {**summary(b), "txs": txs}


async def ledger(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    spaces = sorted({s for s, _ in book.revisions})
    return web.json_response(
        {
            "network": book.network,
            "signers": [{"name": s.name, "key": _b64(s.public_key)} for s in book.signers],
            "quorum": book.quorum,
            "spaces": spaces,
        }
    )


async def latest(request: web.Request) -> web.Response:
    return web.json_response(summary(request.app[BOOK].latest))


async def one_block(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    raw = request.match_info["number"]
    if not raw.isdigit():
        raise bad("block number must be an integer")
    block = book.block(int(raw))
    if block is None:
        raise BookError(404, "NO_SUCH_BLOCK", f"no block {raw}; latest is {book.latest.number}")
    return web.json_response(full(block))


async def list_blocks(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    q = request.query
    if q.get("cursor"):
        c = _uncursor(q["cursor"])
        start, end = c.get("n", 1), c.get("to", 0)
    else:
        start, end = _int(q, "from", 1) or 1, _int(q, "to", 0) or 0
    limit = _int(q, "limit", 20) or 20
    if not 1 <= limit <= MAX_LIMIT:
        raise bad(f"limit must be 1..{MAX_LIMIT}")
    if end and end < start:
        raise bad(f"to {end} is below from {start}")
    view = q.get("view", "summary")
    if view not in ("summary", "full"):
        raise bad("view must be summary or full")
    top = book.latest.number if not end else min(end, book.latest.number)
    numbers = range(max(start, book.blocks[0].number), min(top, start + limit - 1) + 1)
    items = [(full if view == "full" else summary)(b) for n in numbers if (b := book.block(n))]
    last = numbers[-1] if len(numbers) else start - 1
    more = last < top
    return web.json_response(
        {"items": items, "next_cursor": _cursor({"n": last + 1, "to": end}) if more else None}
    )


async def revisions(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    space, key = request.match_info["space"], request.match_info["key"]
    revs = book.revisions.get((space, key))
    if not revs:
        raise BookError(404, "NO_SUCH_KEY", f"no key {key[:200]} in space {space[:200]}")
    q = request.query
    skip = _uncursor(q["cursor"]).get("i", 0) if q.get("cursor") else 0
    limit = _int(q, "limit", 20) or 20
    if not 1 <= limit <= MAX_LIMIT:
        raise bad(f"limit must be 1..{MAX_LIMIT}")
    newest_first = list(reversed(revs))
    page = newest_first[skip : skip + limit]
    items = []
    for number, pos in page:
        block = book.block(number)
        assert block is not None
        tx = block.txs[pos]
        items.append({"rev": tx["rev"], "block": number, "position": pos, "txid": tx["txid"]})
    more = skip + limit < len(newest_first)
    return web.json_response(
        {"items": items, "next_cursor": _cursor({"i": skip + limit}) if more else None}
    )


def _name(doc: dict[str, Any], field: str, pattern: re.Pattern[str] = NAME_RE) -> str:
    v = doc.get(field)
    if not isinstance(v, str) or not pattern.match(v):
        raise bad(f"{field} must match {pattern.pattern}")
    return v


async def post_tx(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise BookError(413, "TOO_LARGE", f"body is larger than {MAX_BODY} bytes")
    try:
        doc = json.loads(raw)
    except ValueError:
        raise bad("body is not JSON") from None
    if not isinstance(doc, dict):
        raise bad("body must be an object")
    extra = set(doc) - {"space", "key", "kind", "doc", "tombstone", "client_ref"}
    if extra:
        raise bad(f"unknown fields: {', '.join(sorted(extra))}")
    key = doc.get("key")
    if not isinstance(key, str) or not key or len(key.encode()) > 256:
        raise bad("key must be a string of 1..256 bytes")
    tombstone = doc.get("tombstone", False)
    if not isinstance(tombstone, bool):
        raise bad("tombstone must be a boolean")
    if tombstone == ("doc" in doc):
        raise bad("give exactly one of doc and tombstone: true")
    try:
        text = "" if tombstone else canonical_text(doc["doc"])
    except MalformedInput as exc:
        raise bad(f"doc cannot be canonical JSON: {exc}") from None
    if len(text) > MAX_DOC:
        raise BookError(413, "TOO_LARGE", f"doc is larger than {MAX_DOC} bytes")
    tx = {
        "space": _name(doc, "space"),
        "key": key,
        "kind": _name(doc, "kind", re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")),
        "doc": text,
        "tombstone": tombstone,
        "client_ref": _name(doc, "client_ref", REF_RE) if "client_ref" in doc else None,
    }
    txid = book.submit(tx)
    return web.json_response({"txid": txid, "state": "queued"}, status=201)


def _tx_status(book: Book, txid: str) -> dict[str, Any]:
    if txid not in book.by_txid:
        raise BookError(404, "NO_SUCH_TX", f"no transaction {txid[:80]}")
    where = book.by_txid[txid]
    if where is None:
        return {"txid": txid, "state": "queued", "block": None, "position": None}
    return {"txid": txid, "state": "sealed", "block": where[0], "position": where[1]}


async def get_tx(request: web.Request) -> web.Response:
    return web.json_response(_tx_status(request.app[BOOK], request.match_info["txid"]))


async def find_tx(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    ref = request.query.get("client_ref", "")
    if not REF_RE.match(ref):
        raise bad(f"client_ref must match {REF_RE.pattern}")
    if ref not in book.by_ref:
        raise BookError(404, "NO_SUCH_TX", f"no transaction with client_ref {ref}")
    return web.json_response({**_tx_status(book, book.by_ref[ref]), "client_ref": ref})


def make_app(book: Book) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=MAX_BODY * 2)
    app[BOOK] = book
    app.router.add_get("/api/v2/ledger", ledger)
    app.router.add_get("/api/v2/blocks/latest", latest)
    app.router.add_get("/api/v2/blocks/{number}", one_block)
    app.router.add_get("/api/v2/blocks", list_blocks)
    app.router.add_get("/api/v2/spaces/{space}/keys/{key}/revisions", revisions)
    app.router.add_post("/api/v2/transactions", post_tx)
    app.router.add_get("/api/v2/transactions/{txid}", get_tx)
    app.router.add_get("/api/v2/transactions", find_tx)
    return app
