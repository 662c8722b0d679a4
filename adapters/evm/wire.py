"""The only module that speaks JSON-RPC to the node; everything above it works with values.

Calls are raw JSON-RPC over one aiohttp session of its own, so blocks, proofs and
logs arrive exactly as the node encoded them (no formatter renames or drops a
header field). Not web3's AsyncHTTPProvider: its session cache takes a
process-wide threading lock through an executor on every call, and a call
cancelled while waiting for that lock leaves it held forever, so every later call
of every EVM adapter in the process times out (a scan restarted when a route joins
cancels its calls). Failures are mapped once, here: no answer or no connection is
ChainUnavailable, an error object from the node is NodeError with its code and
revert data.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any, cast

import aiohttp

from adapters.base import AdapterError, ChainUnavailable

Json = dict[str, Any]
# A node's answer larger than this is refused (a 255 KiB record's proof is far below it).
MAX_ANSWER_BYTES = 64 * 1024 * 1024


class NodeError(AdapterError):
    """The node answered a call with a JSON-RPC error (a revert carries its data)."""

    def __init__(self, method: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{method}: node error {code}: {message}")
        self.method = method
        self.code = code
        self.node_message = message
        self.data = data


class EvmRpc:
    """JSON-RPC to one node, every call bounded by `timeout` seconds; safe to cancel."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    def _client(self) -> aiohttp.ClientSession:
        """The session, made on first use (it belongs to the loop that uses it)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                json_serialize=json.dumps,
            )
        return self._session

    async def request(self, method: str, params: list[Any]) -> Any:
        call = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            async with (
                asyncio.timeout(self.timeout),
                self._client().post(self.url, json=call) as response,
            ):
                status = response.status
                body = bytearray()
                async for chunk in response.content.iter_any():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        break
        except TimeoutError as exc:
            raise ChainUnavailable(
                f"{self.url}: no answer to {method} within {self.timeout:g}s"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ChainUnavailable(f"{self.url}: cannot reach the node ({exc})") from exc
        if len(body) > MAX_ANSWER_BYTES:
            raise ChainUnavailable(f"{self.url}: the answer to {method} is too large")
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise ChainUnavailable(
                f"{self.url}: {method} answered HTTP {status} with no JSON-RPC reply"
            ) from exc
        if not isinstance(answer, dict):
            raise ChainUnavailable(f"{self.url}: {method} answered with a non-object")
        error = answer.get("error")
        if error:
            if isinstance(error, dict):
                raise NodeError(
                    method, int(error.get("code", 0)), str(error.get("message")), error.get("data")
                )
            raise NodeError(method, 0, str(error))
        return answer.get("result")

    async def chain_id(self) -> int:
        return int(await self.request("eth_chainId", []), 16)

    async def block_number(self) -> int:
        return int(await self.request("eth_blockNumber", []), 16)

    async def block(self, number: int | str) -> Json | None:
        """The block (header fields, transaction hashes only) or None when the node has none."""
        tag = hex(number) if isinstance(number, int) else number
        result = await self.request("eth_getBlockByNumber", [tag, False])
        return cast(Json | None, result)

    async def block_by_hash(self, block_hash: str) -> Json | None:
        return cast(Json | None, await self.request("eth_getBlockByHash", [block_hash, False]))

    async def proof(self, address: str, slots: list[str], block: str) -> Json:
        """EIP-1186 proof at `block`: a block hash (EIP-1898 reference, canonical only) or
        a number or tag."""
        ref: Any = {"blockHash": block, "requireCanonical": True} if len(block) == 66 else block
        return cast(Json, await self.request("eth_getProof", [address, slots, ref]))

    async def logs(self, flt: Json) -> list[Json]:
        return cast(list[Json], await self.request("eth_getLogs", [flt]))

    async def call(self, to: str, data: str, block: str) -> bytes:
        """eth_call at `block` (a tag, or a block hash for a fixed state)."""
        ref: Any = {"blockHash": block} if len(block) == 66 else block
        result = await self.request("eth_call", [{"to": to, "data": data}, ref])
        return bytes.fromhex(str(result)[2:])

    async def estimate_gas(self, tx: Json) -> int:
        return int(await self.request("eth_estimateGas", [tx]), 16)

    async def max_priority_fee(self) -> int:
        return int(await self.request("eth_maxPriorityFeePerGas", []), 16)

    async def nonce(self, address: str) -> int:
        return int(await self.request("eth_getTransactionCount", [address, "pending"]), 16)

    async def send_raw(self, raw_tx: bytes) -> str:
        return str(await self.request("eth_sendRawTransaction", ["0x" + raw_tx.hex()]))

    async def receipt(self, tx_hash: str) -> Json | None:
        return cast(Json | None, await self.request("eth_getTransactionReceipt", [tx_hash]))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
