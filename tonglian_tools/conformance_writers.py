"""The conformance kit's writers for devnets: records written the way the vendor's apps do.

`hub.conformance.writer.Writer` is what the kit asks for; these implement it for the
devnet kinds the kit knows, so `tonglian adapter check --from-devnet KIND` can create
the records it then expects the adapter to find.
"""

from __future__ import annotations

import contextlib
from typing import Any

from devnets.base import DevnetInfo
from hub.conformance.writer import SCHEMA, Writer
from tonglian_proof.canonical import canonical_json


class CustomWriter:
    def __init__(self, url: str, namespace: str = "conformance") -> None:
        self.url = url
        self.namespace = namespace

    async def write(self, key: str, value: dict[str, Any]) -> int:
        from devnets.custom.writer import write_record

        tx = await write_record(self.url, self.namespace, key, SCHEMA, value)
        return tx.block_height

    async def close(self) -> None:
        return None


class AnnalsWriter:
    def __init__(self, url: str, namespace: str = "conformance") -> None:
        self.url = url
        self.namespace = namespace

    async def write(self, key: str, value: dict[str, Any]) -> int:
        from devnets.annals.writer import write_entry

        committed = await write_entry(self.url, self.namespace, key, SCHEMA, value)
        return int(committed.block_number)

    async def close(self) -> None:
        return None


class EvmWriter:
    """Writes through the RecordRegistry from the devnet's owner, then mines past finality."""

    def __init__(self, info: DevnetInfo) -> None:
        from web3 import AsyncHTTPProvider, AsyncWeb3

        self.info = info
        self.namespace = str(info.extra["registry_address"])
        self.w3 = AsyncWeb3(AsyncHTTPProvider(info.endpoints["rpc"]))

    async def write(self, key: str, value: dict[str, Any]) -> int:
        from web3.types import RPCEndpoint

        from devnets.evm import contracts

        body = canonical_json(value)
        receipt = await contracts.put_record(
            self.w3,
            self.info.extra["registry_address"],
            self.info.extra["owner"]["address"],
            key,
            SCHEMA,
            body,
        )
        depth = int(self.info.extra.get("finality_depth", 2))
        await self.w3.provider.make_request(RPCEndpoint("anvil_mine"), [depth + 1])
        return int(receipt["blockNumber"])

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.w3.provider.disconnect()


def writer_for_devnet(info: DevnetInfo) -> Writer | None:
    """The writer for a devnet kind the kit knows, else None (seed records instead)."""
    if info.kind == "custom":
        return CustomWriter(info.endpoints["http"])
    if info.kind == "annals":
        return AnnalsWriter(info.endpoints["http"])
    if info.kind == "evm":
        return EvmWriter(info)
    return None
