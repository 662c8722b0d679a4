"""The only code that speaks HTTP to the ledger: one session, typed errors, strict answers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from adapters.base import AdapterError, ChainUnavailable, InvalidAdapterRequest, RecordNotFound
from adapters.custom import wire
from adapters.http1 import Http1Client, HttpFailure

M = TypeVar("M", bound=BaseModel)


class LedgerClient:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http = Http1Client(self.url)

    async def close(self) -> None:
        await self._http.close()

    async def _call(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | bytes | None = None,
        extra_wait: float = 0.0,
    ) -> M:
        """`body`: JSON to send, or a JSON document already encoded."""
        what = f"{method} {path}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            # Every call may be repeated: reads, and inbox deliveries the ledger keeps
            # once per delivery id.
            answer = await self._http.request(
                method,
                path,
                query=params,
                body=data,
                timeout=self.timeout + extra_wait,
                retry_safe=True,
            )
        except (HttpFailure, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise ChainUnavailable(
                f"custom ledger {self.url} did not answer {what}: {reason}"
            ) from exc
        raw, status = answer.body, answer.status
        if status >= 400:
            raise _status_error(status, what, raw)
        try:
            # Parsed and checked in one pass (pydantic's own JSON parser): a page of
            # blocks is the scan's largest answer.
            return model.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            if first["type"] == "json_invalid":
                raise AdapterError(
                    f"custom ledger answered {what} with a body that is not JSON"
                ) from exc
            loc = ".".join(str(p) for p in first["loc"]) or "body"
            raise AdapterError(
                f"custom ledger answered {what} with a malformed body: {loc}: {first['msg']}"
            ) from exc

    async def info(self) -> wire.Info:
        return await self._call(wire.Info, "GET", "/v1/info")

    async def head(self) -> wire.Head:
        return await self._call(wire.Head, "GET", "/v1/head")

    async def proof(self, collection: str, key: str, at_height: int) -> wire.RecordProof:
        params = {"collection": collection, "key": key}
        if at_height:
            params["at_height"] = str(at_height)
        return await self._call(wire.RecordProof, "GET", "/v1/proofs", params=params)

    async def blocks(
        self, from_height: int, to_height: int, limit: int, collection: str, wait_ms: int = 0
    ) -> wire.BlockPage:
        params = {"from_height": str(from_height), "limit": str(limit)}
        if to_height:
            params["to_height"] = str(to_height)
        if collection:
            params["collection"] = collection
        if wait_ms:
            params["wait_ms"] = str(wait_ms)
        return await self._call(
            wire.BlockPage, "GET", "/v1/blocks", params=params, extra_wait=wait_ms / 1000
        )

    async def deliver(self, body: bytes) -> wire.TxStatus:
        """`body`: the inbox request, JSON encoded."""
        return await self._call(wire.TxStatus, "POST", "/v1/inbox", body=body)

    async def delivery(self, delivery_id: str) -> wire.TxStatus | None:
        """The inbox's view of a delivery; None when the ledger never saw it."""
        try:
            return await self._call(
                wire.TxStatus, "GET", f"/v1/inbox/{quote(delivery_id, safe='')}"
            )
        except RecordNotFound:
            return None

    async def deliveries(self, delivery_ids: Sequence[str]) -> list[wire.TxStatus | None]:
        """The inbox's view of many deliveries (at most the ledger's MAX_STATUS_IDS), in
        the order asked; None for one the ledger never saw."""
        got = await self._call(
            wire.TxStatuses, "POST", "/v1/inbox/statuses", body={"delivery_ids": list(delivery_ids)}
        )
        if len(got.statuses) != len(delivery_ids):
            raise AdapterError(
                f"custom ledger answered {len(got.statuses)} statuses for "
                f"{len(delivery_ids)} deliveries"
            )
        return got.statuses


class StaleVersion(AdapterError):
    """The inbox holds a newer version of the delivered key (HTTP 409 stale_version)."""


def _status_error(status: int, what: str, raw: bytes) -> AdapterError:
    code = ""
    try:
        doc = json.loads(raw)
        code = str(doc["error"])
        detail = f"{code}: {doc['detail']}"
    except (ValueError, KeyError, TypeError):
        detail = raw[:200].decode("utf-8", "replace") or "(empty body)"
    msg = f"custom ledger refused {what} (HTTP {status}) {detail}"
    if status == 409 and code == "stale_version":
        return StaleVersion(msg)
    if status == 404:
        return RecordNotFound(msg)
    if status in (408, 429) or status >= 500:
        return ChainUnavailable(msg)
    if 400 <= status < 500:
        return InvalidAdapterRequest(msg)
    return AdapterError(msg)
