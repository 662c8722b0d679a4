"""Trusted EVM block hashes for ENDPOINT_QUORUM chains: k of the anchor's RPC endpoints must agree.

The hub asks every configured endpoint directly (aiohttp JSON-RPC, one batch of
eth_chainId, eth_blockNumber and eth_getBlockByNumber per endpoint); the
adapter is never consulted. A block hash is trusted when at least
`endpoint_quorum` endpoints serve it and no reachable endpoint serves another
one: two hashes for a block that should be final mean a lying endpoint or a
broken finality assumption, which a person must look at, so a contradiction is
never outvoted. The trusted head is the lowest head among the agreeing
endpoints, so no endpoint can make a block final by claiming a longer chain;
and heads further apart than the finality depth are a contradiction too, so no
endpoint can hold reads back at an old version by claiming a shorter one.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from hub.errors import ChainUnreachable, ProofRejected
from tonglian.v1 import chains_pb2, records_pb2
from tonglian_proof.verify.evm import TrustedEvmHeader

MAX_RESPONSE_BYTES = 1 << 20
# Attested final blocks remembered, per process: a block of 30 records is asked about once.
HEADER_CACHE = 4096


@dataclass(frozen=True)
class EndpointAnswer:
    endpoint: str
    chain_id: int = 0
    head_number: int = 0
    block_hash: bytes = b""
    # Why the endpoint gave no usable answer (unreachable, lagging, malformed).
    failure: str = ""


@dataclass(frozen=True)
class TrustedHead:
    """The chain's head and newest final block as the anchor's endpoints agree on them."""

    head_number: int
    final_height: int
    source: str


async def trusted_head(
    anchor: chains_pb2.EvmTrustAnchor,
    timeout: float,
    *,
    session: aiohttp.ClientSession | None = None,
) -> TrustedHead:
    """The lowest head that k of the anchor's endpoints report, and the final height below it.

    Raises ProofRejected when the endpoints contradict each other (another chain,
    heads further apart than the finality depth) and ChainUnreachable when fewer
    than k answer within `timeout` seconds.
    """
    answers = await _ask_all(anchor, None, timeout, session)
    return decide_head(anchor, answers)


def decide_head(
    anchor: chains_pb2.EvmTrustAnchor, answers: Sequence[EndpointAnswer]
) -> TrustedHead:
    """The verdict on the endpoints' heads (pure, so it is tested without sockets)."""
    _check_endpoints(anchor)
    _check_chain_ids(anchor, answers)
    agreeing = [a for a in answers if not a.failure]
    if len(agreeing) < anchor.endpoint_quorum:
        raise ChainUnreachable(
            f"only {len(agreeing)} of {len(answers)} RPC endpoints reported their head, "
            f"{anchor.endpoint_quorum} must agree ({_failures(answers)})"
        )
    head = _lowest_agreed_head(anchor, agreeing)
    return TrustedHead(
        head_number=head,
        final_height=max(head - anchor.finality_depth, 0),
        source=f"lowest head of {len(agreeing)} of {len(answers)} RPC endpoints, "
        f"{anchor.endpoint_quorum} required",
    )


async def attest_header(
    anchor: chains_pb2.EvmTrustAnchor,
    block_number: int,
    timeout: float,
    *,
    session: aiohttp.ClientSession | None = None,
) -> TrustedEvmHeader:
    """The hash of block `block_number` that k of the anchor's endpoints agree on.

    Raises ProofRejected when endpoints contradict each other (naming them) and
    ChainUnreachable when fewer than k give an answer within `timeout` seconds.
    """
    key = (anchor.SerializeToString(deterministic=True), block_number)
    if (hit := _attested.get(key)) is not None:
        _attested.move_to_end(key)
        return hit
    # Records of one block verified together share one round of questions.
    asking = _asking.get(key)
    if asking is None:
        asking = asyncio.ensure_future(_attest(anchor, block_number, timeout, session))
        _asking[key] = asking
        asking.add_done_callback(lambda _: _asking.pop(key, None))
    trusted = await asyncio.shield(asking)
    if trusted.head_number - block_number >= anchor.finality_depth:
        # Only a final block's answer stays true: a block not yet deep enough is asked again.
        _attested[key] = trusted
        while len(_attested) > HEADER_CACHE:
            _attested.popitem(last=False)
    return trusted


_attested: OrderedDict[tuple[bytes, int], TrustedEvmHeader] = OrderedDict()
_asking: dict[tuple[bytes, int], asyncio.Future[TrustedEvmHeader]] = {}


def forget_anchor(anchor: chains_pb2.EvmTrustAnchor) -> None:
    """Drops the headers attested under `anchor`: its chain was removed or anchored anew
    (no entry could answer for another anchor, but none should outlive its trust)."""
    old = anchor.SerializeToString(deterministic=True)
    for key in [k for k in _attested if k[0] == old]:
        del _attested[key]


async def _attest(
    anchor: chains_pb2.EvmTrustAnchor,
    block_number: int,
    timeout: float,
    session: aiohttp.ClientSession | None,
) -> TrustedEvmHeader:
    answers = await _ask_all(anchor, block_number, timeout, session)
    return decide(anchor, block_number, answers)


# One HTTP session per event loop, reused by every question (a session per question
# costs a TCP connection set-up per endpoint each time).
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)


def _shared_session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = aiohttp.ClientSession()
        _sessions[loop] = session
    return session


async def close_session() -> None:
    """Closes this event loop's shared session (at hub shutdown)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


async def _ask_all(
    anchor: chains_pb2.EvmTrustAnchor,
    block_number: int | None,
    timeout: float,
    session: aiohttp.ClientSession | None,
) -> list[EndpointAnswer]:
    _check_endpoints(anchor)
    client = session or _shared_session()
    return list(
        await asyncio.gather(
            *(_ask(client, url, block_number, timeout) for url in anchor.rpc_endpoints)
        )
    )


def _check_endpoints(anchor: chains_pb2.EvmTrustAnchor) -> None:
    if not anchor.rpc_endpoints or anchor.endpoint_quorum < 1:
        raise ProofRejected("the EVM trust anchor names no RPC endpoints or no quorum")


def _check_chain_ids(anchor: chains_pb2.EvmTrustAnchor, answers: Sequence[EndpointAnswer]) -> None:
    wrong_chain = [a for a in answers if a.chain_id and a.chain_id != anchor.chain_id]
    if wrong_chain:
        raise ProofRejected(
            "endpoints serve another chain: "
            + ", ".join(f"{a.endpoint} (chain id {a.chain_id})" for a in wrong_chain)
            + f"; the anchor says chain id {anchor.chain_id}"
        )


def _lowest_agreed_head(
    anchor: chains_pb2.EvmTrustAnchor, answers: Sequence[EndpointAnswer]
) -> int:
    """The lowest head reported; refuses heads further apart than the finality depth.

    The lowest is what every reporting endpoint vouches for, so no endpoint makes a
    block final by claiming a longer chain. Two heads more than `finality_depth`
    apart disagree on which blocks are final: one endpoint lags or lies, and taking
    the lowest would serve versions that the chain has superseded.
    """
    low = min(answers, key=lambda a: a.head_number)
    high = max(answers, key=lambda a: a.head_number)
    if high.head_number - low.head_number > anchor.finality_depth:
        raise ProofRejected(
            f"RPC endpoints disagree on the chain's head: {low.endpoint} reports block "
            f"{low.head_number}, {high.endpoint} reports block {high.head_number}, "
            f"{high.head_number - low.head_number} apart, more than the finality depth "
            f"{anchor.finality_depth}: one of them lags or lies about the chain; repair it "
            "or remove it from the chain's trust anchor"
        )
    return low.head_number


def _failures(answers: Sequence[EndpointAnswer]) -> str:
    return "; ".join(f"{a.endpoint}: {a.failure}" for a in answers if a.failure)


def decide(
    anchor: chains_pb2.EvmTrustAnchor, block_number: int, answers: Sequence[EndpointAnswer]
) -> TrustedEvmHeader:
    """The verdict on the endpoints' answers (pure, so it is tested without sockets)."""
    k = anchor.endpoint_quorum
    _check_chain_ids(anchor, answers)
    votes: dict[bytes, list[EndpointAnswer]] = {}
    for answer in answers:
        if not answer.failure:
            votes.setdefault(answer.block_hash, []).append(answer)
    if len(votes) > 1:
        raise ProofRejected(
            f"endpoints disagree on block {block_number}: "
            + "; ".join(
                f"0x{h.hex()} from {', '.join(a.endpoint for a in group)}"
                for h, group in votes.items()
            )
        )
    agreeing = next(iter(votes.values()), [])
    if len(agreeing) < k:
        raise ChainUnreachable(
            f"only {len(agreeing)} of {len(answers)} RPC endpoints answered for block "
            f"{block_number}, {k} must agree ({_failures(answers)})"
        )
    # An endpoint that reports its head but lacks the block still says how long
    # the chain is: it takes part in the head rule.
    _lowest_agreed_head(anchor, [a for a in answers if a.head_number])
    return _trusted(block_number, agreeing, k, len(answers))


def _trusted(
    block_number: int, agreeing: Sequence[EndpointAnswer], k: int, asked: int
) -> TrustedEvmHeader:
    return TrustedEvmHeader(
        block_number=block_number,
        block_hash=agreeing[0].block_hash,
        # The lowest: each agreeing endpoint vouches that the chain is at least this long.
        head_number=min(a.head_number for a in agreeing),
        source=f"{len(agreeing)} of {asked} RPC endpoints agree, {k} required",
        attestations=tuple(
            records_pb2.EvmHeaderAttestation(
                endpoint=a.endpoint, block_hash=a.block_hash, head_number=a.head_number
            )
            for a in agreeing
        ),
    )


async def _ask(
    session: aiohttp.ClientSession, url: str, block_number: int | None, seconds: float
) -> EndpointAnswer:
    """One endpoint's chain id and head, and block `block_number`'s hash unless it is None."""
    batch: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []},
    ]
    if block_number is not None:
        batch.append(
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "eth_getBlockByNumber",
                "params": [hex(block_number), False],
            }
        )
    try:
        async with session.post(
            url, json=batch, timeout=aiohttp.ClientTimeout(total=seconds)
        ) as response:
            if response.status != 200:
                return EndpointAnswer(url, failure=f"HTTP {response.status}")
            body = await response.content.read(MAX_RESPONSE_BYTES + 1)
    except TimeoutError:
        return EndpointAnswer(url, failure=f"no answer within {seconds:g}s")
    except aiohttp.ClientError as exc:
        return EndpointAnswer(url, failure=f"unreachable ({exc.__class__.__name__}: {exc})")
    if len(body) > MAX_RESPONSE_BYTES:
        return EndpointAnswer(url, failure="answer too large")
    try:
        return _parse(url, block_number, body)
    except (ValueError, KeyError, TypeError) as exc:
        return EndpointAnswer(url, failure=f"malformed answer ({exc})")


def _parse(url: str, block_number: int | None, body: bytes) -> EndpointAnswer:
    replies: Any = json.loads(body)
    if not isinstance(replies, list):
        raise ValueError("not a JSON-RPC batch answer")
    by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
    results = []
    for rid in (1, 2) if block_number is None else (1, 2, 3):
        reply = by_id.get(rid)
        if reply is None or "error" in reply:
            err = reply.get("error") if reply else "missing"
            raise ValueError(f"request {rid}: {err}")
        results.append(reply.get("result"))
    chain_id, head = int(str(results[0]), 16), int(str(results[1]), 16)
    if block_number is None:
        return EndpointAnswer(url, chain_id, head)
    block = results[2]
    if block is None:
        return EndpointAnswer(
            url, chain_id, head, failure=f"has no block {block_number} (head {head})"
        )
    if int(block["number"], 16) != block_number:
        raise ValueError(f"asked for block {block_number}, got {block['number']}")
    block_hash = bytes.fromhex(block["hash"].removeprefix("0x"))
    if len(block_hash) != 32:
        raise ValueError("block hash is not 32 bytes")
    return EndpointAnswer(url, chain_id, head, block_hash)
