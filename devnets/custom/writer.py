"""Writes records to a custom ledger the way the vendor's own applications would.

The hub never writes records (it only delivers through inboxes); the demo, the
tests and the benchmarks use this to put data on the chain first.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class CommittedTx:
    tx_id: str
    block_height: int


class LedgerWriteError(Exception):
    """The ledger refused a write or did not commit it in time."""


async def write_record(
    url: str,
    collection: str,
    key: str,
    schema: str,
    value: Any,
    *,
    timeout: float = 10.0,
    session: aiohttp.ClientSession | None = None,
) -> CommittedTx:
    """Appends a record and waits until a signed block holds it."""
    own = session is None
    http = session or aiohttp.ClientSession()
    try:
        body = {"collection": collection, "key": key, "schema": schema, "value": value}
        async with http.post(f"{url}/v1/records", json=body) as resp:
            answer = await resp.json()
            if resp.status != 202:
                raise LedgerWriteError(f"ledger refused {collection}/{key}: {answer}")
        tx_id = str(answer["tx_id"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with http.get(f"{url}/v1/txs/{tx_id}") as resp:
                status = await resp.json()
            if status.get("status") == "committed":
                return CommittedTx(tx_id, int(status["block_height"]))
            await asyncio.sleep(0.05)
        raise LedgerWriteError(f"{collection}/{key} (tx {tx_id}) not committed within {timeout}s")
    finally:
        if own:
            await http.close()
