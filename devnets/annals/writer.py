"""Writes entries to an Annals node as the vendor's own applications do (for tests, demos)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Sealed:
    txid: str
    block_number: int


class AnnalsWriteError(Exception):
    """The node refused a write or did not seal it in time."""


async def write_entry(
    url: str, space: str, key: str, kind: str, doc: Any, *, timeout: float = 10.0
) -> Sealed:
    """Submits an entry and waits until a sealed block holds it."""
    async with aiohttp.ClientSession() as http:
        body = {"space": space, "key": key, "kind": kind, "doc": doc}
        async with http.post(f"{url}/api/v2/transactions", json=body) as resp:
            answer = await resp.json()
            if resp.status != 201:
                raise AnnalsWriteError(f"annals refused {space}/{key}: {answer}")
        txid = str(answer["txid"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with http.get(f"{url}/api/v2/transactions/{txid}") as resp:
                status = await resp.json()
            if status.get("state") == "sealed":
                return Sealed(txid, int(status["block"]))
            await asyncio.sleep(0.05)
    raise AnnalsWriteError(f"{space}/{key} (tx {txid}) not sealed within {timeout}s")
