"""The agencies' ledgers in the demo: start one devnet, write a record its own way,
count what arrived in its inbox, stop.

Each agency writes through its chain's native path (the custom ledger's HTTP API,
a transaction to the EVM registry, a Fabric chaincode invocation), as its own
applications would: the hub never writes records, it only reads and delivers.
`arrivals` reads the destination chain directly, not through the hub, so "arrived
once" is the chain's word.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from eth_utils.address import to_checksum_address
from google.protobuf.json_format import ParseDict
from web3 import AsyncHTTPProvider, AsyncWeb3

from devnets.base import DevnetInfo, Progress
from devnets.custom.network import CustomDevnet
from devnets.custom.writer import write_record
from devnets.evm import contracts
from devnets.evm.network import EvmDevnet
from devnets.fabric.binaries import FabricRelease
from devnets.fabric.network import FabricDevnet
from tonglian.v1 import chains_pb2
from tonglian_proof.canonical import canonical_json

# Blocks of 0.5 s and 2 confirmations: a record is final about a second after it is mined.
EVM_BLOCK_TIME = 0.5
CUSTOM_BLOCK_MS = 100


@dataclass(frozen=True)
class Written:
    tx_id: str
    block_height: int


class Ledger(Protocol):
    label: str
    chain: chains_pb2.Chain
    namespace: str  # where the agency's own records live
    inbox: str  # the destination namespace for records forwarded to it

    async def up(self, progress: Progress) -> None: ...

    async def write(self, key: str, schema: str, value: dict[str, Any]) -> Written: ...

    async def arrivals(self, delivery_id: str) -> int: ...

    async def down(self) -> None: ...

    def stop_hint(self) -> str: ...


def _chain(info: DevnetInfo, chain_id: str) -> chains_pb2.Chain:
    chain = ParseDict(info.chain, chains_pb2.Chain())
    chain.chain_id = chain_id
    return chain


class CustomLedger:
    label = "custom ledger"

    def __init__(self, state_root: Path, chain_id: str, namespace: str, inbox: str) -> None:
        self.devnet = CustomDevnet(state_root / "custom", block_interval_ms=CUSTOM_BLOCK_MS)
        self._chain_id = chain_id
        self.namespace = namespace
        self.inbox = inbox
        self.chain = chains_pb2.Chain(chain_id=chain_id)
        self.url = ""

    async def up(self, progress: Progress) -> None:
        info = await self.devnet.up(progress)
        self.chain = _chain(info, self._chain_id)
        self.url = info.endpoints["http"]

    async def write(self, key: str, schema: str, value: dict[str, Any]) -> Written:
        tx = await write_record(self.url, self.namespace, key, schema, value)
        return Written(tx.tx_id, tx.block_height)

    async def arrivals(self, delivery_id: str) -> int:
        """Entries of the inbox collection carrying `delivery_id`, read from the blocks."""
        found, height = 0, 0
        async with aiohttp.ClientSession() as http:
            while True:
                params = {"from_height": str(height), "limit": "100", "collection": self.inbox}
                async with http.get(f"{self.url}/v1/blocks", params=params) as resp:
                    page = await resp.json()
                for block in page["blocks"]:
                    found += sum(
                        e.get("delivery_id") == delivery_id for e in block.get("entries", [])
                    )
                if not page["blocks"] or page["next_from_height"] > page["head_height"]:
                    return found
                height = page["next_from_height"]

    async def down(self) -> None:
        await self.devnet.down()

    def stop_hint(self) -> str:
        return f"TONGLIAN_STATE_DIR={self.devnet.state_dir.parent} tonglian devnet down custom"


class EvmLedger:
    label = "EVM chain (anvil)"

    def __init__(self, state_root: Path, chain_id: str) -> None:
        self.devnet = EvmDevnet(
            state_root / "evm", block_time=EVM_BLOCK_TIME, hub_chain_id=chain_id
        )
        self.chain = chains_pb2.Chain(chain_id=chain_id)
        self.namespace = ""
        self.inbox = ""
        self._w3: AsyncWeb3[AsyncHTTPProvider] | None = None
        self._owner = ""

    async def up(self, progress: Progress) -> None:
        info = await self.devnet.up(progress)
        self.chain = ParseDict(info.chain, chains_pb2.Chain())
        self.namespace = to_checksum_address(info.extra["registry_address"])
        self.inbox = to_checksum_address(info.extra["inbox_address"])
        self._owner = to_checksum_address(info.extra["owner"]["address"])
        self._w3 = AsyncWeb3(AsyncHTTPProvider(info.endpoints["rpc"]))

    @property
    def w3(self) -> AsyncWeb3[AsyncHTTPProvider]:
        if self._w3 is None:
            raise RuntimeError("the EVM ledger is not up")
        return self._w3

    async def write(self, key: str, schema: str, value: dict[str, Any]) -> Written:
        """Writes through the registry contract and waits until the block is final."""
        registry = to_checksum_address(self.namespace)
        receipt = await contracts.put_record(
            self.w3, registry, to_checksum_address(self._owner), key, schema, canonical_json(value)
        )
        height = int(receipt["blockNumber"])
        final = height + self.devnet.finality_depth
        while True:
            if await self.w3.eth.block_number >= final:
                break
            await asyncio.sleep(EVM_BLOCK_TIME / 2)
        return Written("0x" + bytes(receipt["transactionHash"]).hex(), height)

    async def arrivals(self, delivery_id: str) -> int:
        """Delivered events of the inbox for `delivery_id` (the contract refuses repeats)."""
        inbox = self.w3.eth.contract(
            address=to_checksum_address(self.inbox), abi=contracts.abi("Inbox")
        )
        logs = await inbox.events.Delivered.get_logs(from_block=0)
        return sum(log["args"]["delivery"]["deliveryId"] == delivery_id for log in logs)

    async def down(self) -> None:
        if self._w3 is not None:
            with contextlib.suppress(Exception):
                await self._w3.provider.disconnect()
        await self.devnet.down()

    def stop_hint(self) -> str:
        return f"TONGLIAN_STATE_DIR={self.devnet.state_dir.parent} tonglian devnet down evm"


class FabricLedger:
    label = "Fabric network (orderer, Org1 and Org2 peers)"

    def __init__(self, state_root: Path, chain_id: str, release: FabricRelease) -> None:
        self.devnet = FabricDevnet(state_root / "fabric", release=release)
        self.chain = chains_pb2.Chain(chain_id=chain_id)
        self._chain_id = chain_id
        self.namespace = ""
        self.inbox = ""
        self._adapter: Any = None

    async def up(self, progress: Progress) -> None:
        from devnets.fabric.client import devnet_adapter

        info = await self.devnet.up(progress)
        self.chain = _chain(info, self._chain_id)
        # The demo writes as the devnet's User1, whose key file the chain's secret
        # `identity_key` names (registering puts it into the hub's store).
        self._adapter = await asyncio.to_thread(devnet_adapter, info, self._chain_id, 10.0)
        self.namespace = str(self._adapter.namespace)

    async def write(self, key: str, schema: str, value: dict[str, Any]) -> Written:
        """Endorsed by both organisations' peers, ordered, committed VALID."""
        committed = await self._adapter.put(key, schema, value)
        return Written(str(committed.tx_id), int(committed.block_number))

    async def arrivals(self, delivery_id: str) -> int:
        raise NotImplementedError("the demo forwards from Fabric, not into it")

    async def down(self) -> None:
        if self._adapter is not None:
            with contextlib.suppress(Exception):
                await self._adapter.close()
        await self.devnet.down()

    def stop_hint(self) -> str:
        return f"TONGLIAN_STATE_DIR={self.devnet.state_dir.parent} tonglian devnet down fabric"
