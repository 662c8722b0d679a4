"""The only module that speaks JSON-RPC to the node; everything above it works with values.

Calls are raw JSON-RPC over a lean HTTP client of its own, so blocks, proofs and
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
from collections.abc import Coroutine
from typing import Any, cast

from adapters.base import AdapterError, ChainUnavailable
from adapters.http1 import AnswerTooLarge, Http1Client, HttpFailure

Json = dict[str, Any]
# A node's answer larger than this is refused (a 255 KiB record's proof is far below it).
MAX_ANSWER_BYTES = 64 * 1024 * 1024
# Calls per JSON-RPC batch: an answer of 100 blocks is well under a MiB.
BATCH_CALLS = 100
# Storage slots per merged eth_getProof (two per record): one answer of a few MiB at most.
MERGED_SLOTS = 200


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
        self._http = Http1Client(url, max_body=MAX_ANSWER_BYTES)
        self._ids = itertools.count(1)
        # eth_getProof calls made in the same turn of the loop, by (account, block hash).
        self._pending: dict[tuple[str, str], list[tuple[list[str], asyncio.Future[Json]]]] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def request(self, method: str, params: list[Any]) -> Any:
        call = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        answer = await self._post(call, method)
        if not isinstance(answer, dict):
            raise ChainUnavailable(f"{self.url}: {method} answered with a non-object")
        return _result(method, answer)

    async def batch(self, method: str, calls: list[list[Any]]) -> list[Any]:
        """`method` once per params list in `calls`, as one JSON-RPC batch (one HTTP round
        trip, not one per call): the results in the order of `calls`. Any call's error
        fails the batch."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
            for i, params in zip(ids, calls, strict=True)
        ]
        answers = await self._post(payload, method)
        if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
            # A node without batch support answers one error object.
            if isinstance(answers, dict) and answers.get("error"):
                _result(method, answers)
            raise ChainUnavailable(f"{self.url}: a batch of {method} answered with a non-list")
        by_id = {a.get("id"): a for a in answers}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise ChainUnavailable(
                f"{self.url}: a batch of {len(ids)} {method} calls answered {len(answers)}"
            )
        return [_result(method, by_id[i]) for i in ids]

    async def _merged_proof(self, address: str, slots: list[str], block: str) -> Json:
        """eth_getProof, except that the calls for one account at one block made in the
        same turn of the event loop (a scan asking for every record's proof of its
        blocks at once) go out as one call with all their slots, at most MERGED_SLOTS:
        the node builds the account proof once, not once per record. Each caller gets
        the answer with its own slots' storage proofs, in its order."""
        done: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.setdefault((address, block), []).append((slots, done))
        return await done

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for (address, block), calls in pending.items():
            group: list[tuple[list[str], asyncio.Future[Json]]] = []
            for call in calls:
                if group and sum(len(s) for s, _ in group) + len(call[0]) > MERGED_SLOTS:
                    self._start(self._send(address, block, group))
                    group = []
                group.append(call)
            self._start(self._send(address, block, group))

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(
        self, address: str, block: str, calls: list[tuple[list[str], asyncio.Future[Json]]]
    ) -> None:
        live = [(slots, done) for slots, done in calls if not done.done()]
        if not live:
            return
        at: Any = {"blockHash": block, "requireCanonical": True} if len(block) == 66 else block
        try:
            answer = await self.request(
                "eth_getProof", [address, [slot for slots, _ in live for slot in slots], at]
            )
            if not isinstance(answer, dict):
                raise ChainUnavailable(f"{self.url}: eth_getProof answered a non-object")
            storage = answer.get("storageProof") or []
            wanted = sum(len(slots) for slots, _ in live)
            if len(storage) != wanted:
                raise AdapterError(
                    f"eth_getProof returned {len(storage)} storage proofs, asked for {wanted}"
                )
        except asyncio.CancelledError:
            for _, done in live:
                done.cancel()
            raise
        except Exception as exc:
            for _, done in live:
                if not done.done():
                    done.set_exception(exc)
            return
        at_slot = 0
        for slots, done in live:
            if not done.done():
                own = dict(answer)
                own["storageProof"] = storage[at_slot : at_slot + len(slots)]
                done.set_result(own)
            at_slot += len(slots)

    async def _post(self, payload: Json | list[Json], method: str) -> Any:
        """POSTs a JSON-RPC call or batch; its decoded answer, failures mapped."""
        try:
            answer = await self._http.request(
                "POST",
                "",
                body=json.dumps(payload).encode(),
                timeout=self.timeout,
                # A node keeps a signed transaction once: sent again it answers an error.
                retry_safe=method != "eth_sendRawTransaction",
            )
        except TimeoutError as exc:
            raise ChainUnavailable(
                f"{self.url}: no answer to {method} within {self.timeout:g}s"
            ) from exc
        except AnswerTooLarge as exc:
            raise ChainUnavailable(f"{self.url}: the answer to {method} is too large") from exc
        except HttpFailure as exc:
            raise ChainUnavailable(f"{self.url}: cannot reach the node ({exc})") from exc
        status = answer.status
        try:
            return json.loads(answer.body)
        except ValueError as exc:
            raise ChainUnavailable(
                f"{self.url}: {method} answered HTTP {status} with no JSON-RPC reply"
            ) from exc

    async def chain_id(self) -> int:
        return int(await self.request("eth_chainId", []), 16)

    async def block_number(self) -> int:
        return int(await self.request("eth_blockNumber", []), 16)

    async def block(self, number: int | str) -> Json | None:
        """The block (header fields, transaction hashes only) or None when the node has none."""
        tag = hex(number) if isinstance(number, int) else number
        result = await self.request("eth_getBlockByNumber", [tag, False])
        return cast(Json | None, result)

    async def blocks(self, numbers: list[int]) -> list[Json | None]:
        """`block` for each of `numbers`, in one batch."""
        got = await self.batch("eth_getBlockByNumber", [[hex(n), False] for n in numbers])
        return [cast(Json | None, b) for b in got]

    async def block_by_hash(self, block_hash: str) -> Json | None:
        return cast(Json | None, await self.request("eth_getBlockByHash", [block_hash, False]))

    async def proof(self, address: str, slots: list[str], block: str) -> Json:
        """EIP-1186 proof at `block`: a block hash (EIP-1898 reference, canonical only) or
        a number or tag."""
        return await self._merged_proof(address, slots, block)

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
        for task in list(self._sending):
            task.cancel()
        await self._http.close()


def _result(method: str, answer: Json) -> Any:
    """The result of one JSON-RPC answer object; its error raised as NodeError."""
    error = answer.get("error")
    if error:
        if isinstance(error, dict):
            raise NodeError(
                method, int(error.get("code", 0)), str(error.get("message")), error.get("data")
            )
        raise NodeError(method, 0, str(error))
    return answer.get("result")
