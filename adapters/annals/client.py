"""The only code that speaks HTTP to an Annals node: one client, typed errors, strict answers."""

from __future__ import annotations

import json
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from adapters.annals import wire
from adapters.base import AdapterError, ChainUnavailable, InvalidAdapterRequest, RecordNotFound
from adapters.http1 import AnswerTooLarge, Http1Client, HttpFailure

M = TypeVar("M", bound=BaseModel)
MAX_ANSWER_BYTES = 32 << 20


class Duplicate(Exception):
    """POST /transactions refused a client_ref it already holds; `txid` is the first write."""

    def __init__(self, txid: str) -> None:
        super().__init__(txid)
        self.txid = txid


class AnnalsClient:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/") + "/api/v2"
        self.timeout = timeout
        self._http = Http1Client(self.url, max_body=MAX_ANSWER_BYTES)

    async def close(self) -> None:
        await self._http.close()

    async def _call(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> M:
        what = f"{method} {path}"
        try:
            # Every call may be repeated: reads, and writes the node keeps once per
            # client_ref (a repeat answers DUPLICATE_CLIENT_REF with the first write).
            answer = await self._http.request(
                method,
                path,
                query=params,
                body=None if body is None else json.dumps(body).encode(),
                timeout=self.timeout,
                retry_safe=True,
            )
        except AnswerTooLarge as exc:
            raise AdapterError(
                f"annals node answered {what} with more than {MAX_ANSWER_BYTES} bytes"
            ) from exc
        except (HttpFailure, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise ChainUnavailable(
                f"annals node {self.url} did not answer {what}: {reason}"
            ) from exc
        raw, status = answer.body, answer.status
        if status >= 400:
            raise _status_error(status, what, raw)
        try:
            return model.model_validate(json.loads(raw))
        except (ValueError, ValidationError) as exc:
            raise AdapterError(
                f"annals node answered {what} with a malformed body: {exc}"
            ) from None

    async def ledger(self) -> wire.Ledger:
        return await self._call(wire.Ledger, "GET", "/ledger")

    async def latest(self) -> wire.Summary:
        return await self._call(wire.Summary, "GET", "/blocks/latest")

    async def block(self, number: int) -> wire.Block:
        return await self._call(wire.Block, "GET", f"/blocks/{number}")

    async def blocks(self, start: int, end: int, limit: int, cursor: str | None) -> wire.BlockPage:
        params = {"cursor": cursor} if cursor else {"from": str(start), "limit": str(limit)}
        if not cursor and end:
            params["to"] = str(end)
        params["view"] = "full"
        if cursor:
            params["limit"] = str(limit)
        return await self._call(wire.BlockPage, "GET", "/blocks", params=params)

    async def revisions(self, space: str, key: str, cursor: str | None) -> wire.RevisionPage:
        path = f"/spaces/{quote(space, safe='')}/keys/{quote(key, safe='')}/revisions"
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        return await self._call(wire.RevisionPage, "GET", path, params=params)

    async def post_tx(self, body: dict[str, Any]) -> str:
        """The new transaction's id; raises Duplicate when the client_ref was used."""
        try:
            got = await self._call(wire.TxStatus, "POST", "/transactions", body=body)
        except _DuplicateRef as dup:
            raise Duplicate(dup.txid) from None
        return got.txid

    async def tx_by_ref(self, client_ref: str) -> wire.TxStatus | None:
        try:
            return await self._call(
                wire.TxStatus, "GET", "/transactions", params={"client_ref": client_ref}
            )
        except RecordNotFound:
            return None

    async def tx(self, txid: str) -> wire.TxStatus:
        return await self._call(wire.TxStatus, "GET", f"/transactions/{quote(txid, safe='')}")


class _DuplicateRef(AdapterError):
    def __init__(self, message: str, txid: str) -> None:
        super().__init__(message)
        self.txid = txid


def _status_error(status: int, what: str, raw: bytes) -> AdapterError:
    try:
        err = json.loads(raw)["error"]
        code, message = str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        err, code, message = {}, "", raw[:200].decode("utf-8", "replace") or "(empty body)"
    text = f"annals node refused {what} (HTTP {status} {code}): {message}"
    if status == 409 and code == "DUPLICATE_CLIENT_REF" and isinstance(err.get("txid"), str):
        return _DuplicateRef(text, err["txid"])
    if status == 404:
        return RecordNotFound(text)
    if status in (408, 429) or status >= 500:
        return ChainUnavailable(text)
    if 400 <= status < 500:
        return InvalidAdapterRequest(text)
    return AdapterError(text)
